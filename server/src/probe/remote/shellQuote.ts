/**
 * Words for a POSIX shell on the far side of ssh. ssh joins its arguments into one string that
 * the remote user's shell parses, so every word we send is single-quoted (a quote inside becomes
 * '\''): paths with spaces, quotes, `$`, backticks or newlines reach the remote program as they
 * are, and nothing is interpolated. Pure.
 */
export function shQuote(word: string): string {
  if (word.includes('\0')) throw new Error('a NUL byte cannot be passed to a remote command');
  return /^[A-Za-z0-9_./=:,@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** One remote command line from an argv, each word quoted. */
export function remoteCommand(argv: readonly string[]): string {
  return argv.map(shQuote).join(' ');
}
