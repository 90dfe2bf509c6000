#!/usr/bin/env node
// The `kpng-harness` command (package.json bin). The Makefile runs it from source:
// node harness/cli.ts <command> [options].
import { main } from './cli/main.ts';

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`kpng-harness: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}
