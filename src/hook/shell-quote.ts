/** Single quotes for sh, bash and zsh: nothing inside is expanded. */
export function posixQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`
}

/** Single quotes for fish, which only knows \\' and \\\\ inside them. */
export function fishQuote(text: string): string {
  return `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`
}
