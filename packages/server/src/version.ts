/** The server release, reported in Welcome and /healthz. */
export const SERVER_VERSION = '0.1.0';
