import { motoAnswers } from '../helpers/environment/moto-log';

// The shape of moto.log from a run where moto's request threads raced (abridged).
const LOG = [
  ' * Running on http://127.0.0.1:40715',
  '127.0.0.1 - - [22/Nov/2026 02:06:13] "POST / HTTP/1.1" 200 -',
  '127.0.0.1 - - [22/Nov/2026 02:06:13] "POST / HTTP/1.1" 500 -',
  'Error on request:',
  'Traceback (most recent call last):',
  '  File "/x/moto/secretsmanager/models.py", line 364, in __contains__',
  '    for secret in dict.values(self):',
  'RuntimeError: dictionary changed size during iteration',
  '127.0.0.1 - - [22/Nov/2026 02:06:13] "POST / HTTP/1.1" 404 -',
  '127.0.0.1 - - [22/Nov/2026 02:06:14] "GET /moto-api/ HTTP/1.1" 200 -',
].join('\n');

describe('motoAnswers', () => {
  it('counts the requests and keeps the 5xx lines and the first traceback', () => {
    const answers = motoAnswers(LOG);
    expect(answers.requests).toBe(4);
    expect(answers.serverErrors).toEqual([
      '127.0.0.1 - - [22/Nov/2026 02:06:13] "POST / HTTP/1.1" 500 -',
    ]);
    expect(answers.firstTraceback?.split('\n')).toEqual([
      'Traceback (most recent call last):',
      '  File "/x/moto/secretsmanager/models.py", line 364, in __contains__',
      '    for secret in dict.values(self):',
      'RuntimeError: dictionary changed size during iteration',
    ]);
  });

  it('finds nothing wrong in a clean log', () => {
    const clean = LOG.split('\n')
      .filter((line) => !line.includes('" 500 '))
      .slice(0, 2)
      .join('\n');
    expect(motoAnswers(clean)).toEqual({ requests: 1, serverErrors: [] });
  });
});
