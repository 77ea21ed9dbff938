import { createConnection, ProposedFeatures } from 'vscode-languageserver/node';
import { loadPythonParser } from '../host/parserLoader';
import { bindConnection } from './bindConnection';

/**
 * The RegScope language server. Transport from the command line: `--stdio` for any LSP client
 * (Neovim, Emacs, Helix), `--node-ipc` when started by the VS Code extension.
 */
const VERSION = '0.1.0';
const connection = createConnection(ProposedFeatures.all);

process.on('unhandledRejection', (reason) => connection.console.error(`unhandled rejection: ${(reason as Error)?.stack ?? reason}`));
process.on('uncaughtException', (error) => connection.console.error(`uncaught exception: ${error.stack ?? error}`));
// Probe runs live in their own process groups; exiting through process.exit runs the 'exit'
// handlers that kill them, so a server stopped by a signal leaves no training script behind.
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => process.exit(0));

loadPythonParser().then(
  (parser) => bindConnection(connection, parser, VERSION),
  (error) => {
    process.stderr.write(`regscope: cannot load the Python grammar: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
