/** The version the CLI and reports print; kept equal to package.json's by a test. */
export const REGSCOPE_VERSION = '0.1.0';
