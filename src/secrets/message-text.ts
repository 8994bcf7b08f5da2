/** Turning what 1Password's clients print into safe, one-line parts of `secure`'s own messages. */

/** The longest detail quoted from a client in one of `secure`'s messages. */
const DETAIL_LIMIT = 200

/** Removes terminal escape sequences, and turns other control characters into spaces, keeping line breaks. */
export function stripControlCharacters(text: string): string {
  return text
    .replaceAll(/\u001B\[[0-?]*[ -/]*[@-~]|\u001B\][^\u0007\u001B]*(?:\u0007|\u001B\\)?|\u001B[@-_]/g, '')
    .replaceAll(/\r\n?/g, '\n')
    .replaceAll(/[\u0000-\u0009\u000B-\u001F\u007F-\u009F]/g, ' ')
}

/** Caps a detail for a one-line message; an empty one says so. */
export function capDetail(line: string): string {
  if (line === '') return 'no error message'
  return line.length > DETAIL_LIMIT ? `${line.slice(0, DETAIL_LIMIT - 1)}…` : line
}

/** `30 s` or `1500 ms`, for timeouts. */
export function formatDuration(milliseconds: number): string {
  return milliseconds % 1000 === 0 ? `${milliseconds / 1000} s` : `${milliseconds} ms`
}

/** `text` with each of `values` (four characters or more: shorter ones would blank out ordinary words) replaced by `[redacted]`. */
export function redactValues(text: string, values: readonly string[]): string {
  return values.reduce((result, value) => (value.length >= 4 ? result.replaceAll(value, '[redacted]') : result), text)
}
