// The slow end-to-end tests (pnpm test:e2e): the same setup as the default run in package.json.
export default {
	files: ["test/e2e/**/*.test.ts"],
	extensions: { ts: "module" },
	nodeArguments: ["--import=tsx", "--conditions=source"],
	workerThreads: false,
	timeout: "60m",
};
