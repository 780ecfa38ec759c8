export { Bio, type BioOptions, BioStoppedError } from './bio.js';
export { BioError, type BioHandler, type BioHandlerContext, type BioHandlerFactory } from './protocol.js';
