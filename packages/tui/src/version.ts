import { readFileSync } from "node:fs";

/** The version in this package's package.json (one level above both src/ and dist/). */
export function packageVersion(): string {
	const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
		version?: string;
	};
	return manifest.version ?? "unknown";
}
