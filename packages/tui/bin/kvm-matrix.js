#!/usr/bin/env node
// A committed launcher so that pnpm can link the bin before the first build, and so that a
// missing build is reported as one line instead of a module-resolution stack trace.
import { existsSync } from "node:fs";

const cli = new URL("../dist/cli.js", import.meta.url);
if (!existsSync(cli)) {
	process.stderr.write("kvm-matrix: not built yet; run `pnpm build` in the repository root\n");
	process.exit(2);
}
await import(cli.href);
