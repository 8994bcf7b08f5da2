/** The signals `secure` passes on to the process or container it runs (issues 2 and 3). */
export const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const
