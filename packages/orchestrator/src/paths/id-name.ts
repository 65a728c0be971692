// Cell and test ids hold "/" (`kvm-x86@next/tcg`, `x86_64/cpuid_test`) and name a file or a
// directory each. "/" was replaced by "__", which two ids could share (`a/b__c` and `a__b/c`):
// one cell's logs written over another's. The name is now an escape, not a replacement, and
// keeps the old spelling for every id that had one to itself: "/" is still "__", and only an
// "_" that touches another "_" or a "/" is escaped, so a run of underscores in a name is always
// a run of slashes. A "%" is escaped so that the escapes themselves cannot be forged.

const escapes = (id: string, i: number): boolean => {
	const c = id[i];
	if (c === "%") return true;
	if (c !== "_") return false;
	const touches = (n: string | undefined) => n === "_" || n === "/";
	return touches(id[i - 1]) || touches(id[i + 1]);
};

/** The file or directory name for `id`: one per id, never `.`, `..` or empty, never with a "/". */
export function idName(id: string): string {
	let name = "";
	for (let i = 0; i < id.length; i++) {
		const c = id[i] ?? "";
		if (c === "/") name += "__";
		else if (escapes(id, i)) name += c === "%" ? "%25" : "%5F";
		else if (c === "\u0000") name += "%00";
		else name += c;
	}
	// `.` and `..` name other directories, and "" this one: spelled out, as no other id can be.
	if (name === "" || name === "." || name === "..") return `%${name.length}`;
	return name;
}

/** The id `idName` made `name` from. */
export function idOfName(name: string): string {
	if (/^%\d$/.test(name)) return ".".repeat(Number(name.slice(1)));
	let id = "";
	for (let i = 0; i < name.length; i++) {
		const c = name[i];
		if (c === "_" && name[i + 1] === "_") {
			id += "/";
			i++;
		} else if (c === "%") {
			id += name.slice(i + 1, i + 3) === "25" ? "%" : name.slice(i + 1, i + 3) === "5F" ? "_" : "\u0000";
			i += 2;
		} else id += c;
	}
	return id;
}
