/** One problem in a matrix file, at the node that causes it. Lines and columns count from 1. */
export interface MatrixError {
	readonly file: string;
	readonly line: number;
	readonly col: number;
	readonly message: string;
}

/** `FILE:LINE:COL: message`, the form editors and terminals turn into a link. */
export const formatMatrixError = (e: MatrixError): string => `${e.file}:${e.line}:${e.col}: ${e.message}`;
