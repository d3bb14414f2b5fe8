/**
 * The one error the data loader throws for bad input (contract §1): it names the file (its base
 * name as on disk), the 1-based line and the field, as in
 * `events.jsonl:1843: watchMs must be an integer >= 0`.
 */
export class DataError extends Error {
  override readonly name = 'DataError';

  /**
   * @param file   base name of the file as on disk (`events.jsonl.gz`)
   * @param line   1-based physical line number; 0 when the problem is the whole file
   * @param field  dotted path of the offending field (`watchMs`, `tags.3`); undefined when the
   *               line as a whole is bad (not JSON, not an object) or the problem is the file
   * @param detail the problem, already naming the field when there is one
   *               (`watchMs must be an integer >= 0`)
   */
  constructor(
    readonly file: string,
    readonly line: number,
    readonly field: string | undefined,
    readonly detail: string,
  ) {
    super(line > 0 ? `${file}:${line}: ${detail}` : `${file}: ${detail}`);
  }
}
