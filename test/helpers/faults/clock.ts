let last = 0;

/**
 * A number that grows with every boundary either proxy sees, so that the Secrets Manager calls and
 * database exchanges of one step can be put in the order they happened.
 */
export function nextSequence(): number {
  last += 1;
  return last;
}
