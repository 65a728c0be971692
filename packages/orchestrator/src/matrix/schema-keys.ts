import * as z from "zod";

/**
 * The keys the schema allows for the map at `path`, found by walking the schema itself so the
 * "did you mean" hints can never drift from what is accepted.
 */
export function allowedKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
	let node: z.ZodType | undefined = schema;
	const rest = [...path];
	while (node !== undefined) {
		if (node instanceof z.ZodOptional || node instanceof z.ZodDefault || node instanceof z.ZodNullable) {
			node = node.unwrap() as z.ZodType;
		} else if (node instanceof z.ZodPipe) {
			node = node.in as z.ZodType;
		} else if (rest.length === 0) {
			return node instanceof z.ZodObject ? Object.keys(node.shape) : [];
		} else {
			const key = rest.shift();
			if (node instanceof z.ZodObject && typeof key === "string") node = node.shape[key] as z.ZodType | undefined;
			else if (node instanceof z.ZodArray) node = node.element as z.ZodType;
			else if (node instanceof z.ZodRecord) node = node.valueType as z.ZodType;
			else return [];
		}
	}
	return [];
}
