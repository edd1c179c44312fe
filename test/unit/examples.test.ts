import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readTemplate } from '../helpers/cloudformation';

// The tools' own checks of the examples (cfn-lint, tsc and synth, terraform, shellcheck and a run
// against moto) are in scripts/check-examples.sh; these only tie the examples to template.yaml.
const root = join(__dirname, '..', '..');
const template = readTemplate(join(root, 'template.yaml'));
const outputs = Object.keys(template.Outputs ?? {}).sort();

const exampleFiles = ['cloudformation', 'cdk', 'terraform', 'aws-cli'].flatMap((dir) =>
  readdirSync(join(root, 'examples', dir))
    .filter((file) => /\.(ya?ml|ts|tf|sh)$/.test(file))
    .map((file) => join('examples', dir, file)),
);

describe('examples', () => {
  it('exist for CloudFormation, the CDK, Terraform and the AWS CLI', () => {
    expect(exampleFiles).toEqual(
      expect.arrayContaining([
        'examples/cloudformation/rotation-schedule.yaml',
        'examples/cdk/app.ts',
        'examples/terraform/main.tf',
        'examples/aws-cli/attach-rotation.sh',
      ]),
    );
  });

  it.each(exampleFiles)('%s names only outputs that template.yaml has', (file) => {
    const named =
      readFileSync(join(root, file), 'utf8').match(/\b[A-Z][A-Za-z]+FunctionArn\b/g) ?? [];
    expect(named.length).toBeGreaterThan(0);
    for (const output of named) expect(outputs).toContain(output);
  });

  it('the CloudFormation example offers every function and imports the export template.yaml makes', () => {
    const example = readTemplate(
      join(root, 'examples', 'cloudformation', 'rotation-schedule.yaml'),
    );
    expect(
      [...((example.Parameters?.RotationFunction?.AllowedValues as string[]) ?? [])].sort(),
    ).toEqual(outputs);
    for (const output of outputs) {
      expect(template.Outputs?.[output]?.Export).toEqual({
        Name: { 'Fn::Sub': `\${AWS::StackName}-${output}` },
      });
    }
    expect(example.Resources.SecretRotation?.Properties?.RotationLambdaARN).toEqual({
      // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's Fn::Sub syntax
      'Fn::ImportValue': { 'Fn::Sub': '${RotationStackName}-${RotationFunction}' },
    });
  });
});
