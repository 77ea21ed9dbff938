// A node:test reporter that prints one plain closing line, "tests: N passed, N failed, N skipped",
// after the spec reporter's output, so any CI log reader can tell what ran.
export default async function* summary(source) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    if (event.data.details?.type === 'suite') continue;
    if (event.data.skip || event.data.todo) skipped++;
    else if (event.type === 'test:pass') passed++;
    else failed++;
  }
  yield `\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`;
}
