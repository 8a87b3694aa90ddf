/**
 * What an edit dialog changed: the field-mask paths of the values that differ from the record's,
 * so an update touches only what the official changed (UpdateResident, UpdateHousehold).
 */
export function changedPaths<V extends object>(
  before: V,
  after: V,
  paths: { [K in keyof V]: string },
): string[] {
  return (Object.keys(paths) as (keyof V)[]).filter((key) => before[key] !== after[key]).map((key) => paths[key]);
}
