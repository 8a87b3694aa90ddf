/**
 * Turns what people type for a phone number into E.164, which the server requires.
 *
 * Officials and villagers type Chinese mobile numbers as 11 digits (`138 0013 8000`), sometimes
 * with `86`/`0086`/`+86` in front, spaces or dashes. Those become `+8613800138000`. Anything else
 * is passed through trimmed and unchanged, so that the server's field violation (not a guess made
 * here) tells the user what is wrong.
 */
export function normalizePhone(input: string): string {
  const trimmed = input.trim();
  const compact = trimmed.replace(/[\s\-()]/g, "");
  let match = /^(?:\+86|0086|86)?(1\d{10})$/.exec(compact);
  if (match) {
    return `+86${match[1]}`;
  }
  match = /^\+\d{6,15}$/.exec(compact);
  return match ? compact : trimmed;
}
