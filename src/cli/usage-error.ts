/** A one-line error for the user: printed as `zmx: message`, exit `status`. */
export class UsageError extends Error {
  constructor(message: string, readonly status = 1) {
    super(message);
  }
}
