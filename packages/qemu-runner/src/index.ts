export { type AccelChoice, chooseAccel } from "./accel.js";
export {
	BootCancelledError,
	BootRequestError,
	boot,
	DEFAULTS,
	defaultCacheDir,
	readingText,
	sameValue,
} from "./boot.js";
export { channelFd } from "./channel.js";
export { type ModuleRequest, moduleName } from "./initramfs/modules.js";
export { kernelRelease } from "./kernel-release.js";
export { checkSeal, isSealed, isWhole, sealOf, sealPath } from "./sealed-file.js";
export type * from "./types.js";
