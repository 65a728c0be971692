// Debian's chromium, headless, as the tests that open a page launch it (env/machines: without the
// background-networking flags it keeps dialling out, which this machine refuses).
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/** The browser, or why not in one line (scripts/setup.sh installs it). */
export async function launchChromium(): Promise<Browser | string> {
	if (!existsSync(CHROMIUM)) return `${CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium`;
	return chromium.launch({
		executablePath: CHROMIUM,
		args: [
			"--headless",
			"--no-sandbox",
			"--disable-gpu",
			"--disable-quic",
			"--no-first-run",
			"--disable-background-networking",
			"--disable-component-update",
			"--disable-sync",
		],
	});
}
