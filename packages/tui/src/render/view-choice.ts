/**
 * Whether the environment says this is a CI job. The rule is Ink's own (the is-in-ci package: CI or
 * CONTINUOUS_INTEGRATION set to anything but "0" or "false"), because under it Ink draws nothing
 * until the app exits: a run would show a blank terminal for its whole length.
 */
export function inCi(env: Readonly<Record<string, string | undefined>>): boolean {
	const set = (value: string | undefined) => value !== undefined && value !== "0" && value !== "false";
	return set(env.CI) || set(env.CONTINUOUS_INTEGRATION);
}

/** `note` is for the person at a terminal who expected the interactive view and did not get it. */
export type View = { readonly kind: "interactive" } | { readonly kind: "plain"; readonly note?: string };

/** The interactive view needs a terminal on both ends, no --headless, and an Ink that redraws. */
export function chooseView(options: {
	readonly terminal: boolean;
	readonly headless: boolean;
	readonly env: Readonly<Record<string, string | undefined>>;
}): View {
	if (options.headless || !options.terminal) return { kind: "plain" };
	if (inCi(options.env))
		return { kind: "plain", note: "CI is set, so plain output (the interactive view would draw only at exit)" };
	return { kind: "interactive" };
}
