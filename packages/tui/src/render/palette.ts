export interface Palette {
	readonly bold: (text: string) => string;
	readonly dim: (text: string) => string;
	readonly green: (text: string) => string;
	readonly red: (text: string) => string;
	readonly yellow: (text: string) => string;
	readonly cyan: (text: string) => string;
}

/**
 * Colour is on for a terminal, off otherwise; NO_COLOR (https://no-color.org: set and not empty)
 * always turns it off, FORCE_COLOR (not "0") turns it on for pipes.
 */
export function colourEnabled(env: Readonly<Record<string, string | undefined>>, isTty: boolean): boolean {
	if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
	if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0") return true;
	return isTty;
}

const sgr = (open: number, close: number) => (text: string) => `\u001b[${open}m${text}\u001b[${close}m`;
const plain = (text: string) => text;

export function palette(enabled: boolean): Palette {
	return enabled
		? {
				bold: sgr(1, 22),
				dim: sgr(2, 22),
				green: sgr(32, 39),
				red: sgr(31, 39),
				yellow: sgr(33, 39),
				cyan: sgr(36, 39),
			}
		: { bold: plain, dim: plain, green: plain, red: plain, yellow: plain, cyan: plain };
}
