import type { AdminCode } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import { Select } from "antd";
import { AreaName } from "./AreaName";

/**
 * The area a governance screen shows: one of the official's `areas`, by name, or the one the
 * address bar named when it is not among them (a link to a village inside a township the official
 * governs). Nothing when the official has no area.
 */
export function AreaSelect({
  areas,
  area,
  label,
  onChange,
  minWidth = 320,
}: {
  areas: AdminCode[] | undefined;
  area: AdminCode | undefined;
  label: string;
  onChange: (code: string) => void;
  minWidth?: number;
}) {
  if (!areas || areas.length === 0) return null;
  const shown = area && !areas.some((a) => a.code === area.code) ? [area, ...areas] : areas;
  return (
    <Select
      aria-label={label}
      value={area?.code}
      onChange={(code: string) => onChange(code)}
      options={shown.map((a) => ({ value: a.code, label: <AreaName area={a} /> }))}
      style={{ minWidth }}
    />
  );
}

/** `params` with `name` set to `value`, or removed when `value` is empty (a screen's filters). */
export function withParam(params: URLSearchParams, name: string, value: string): URLSearchParams {
  const next = new URLSearchParams(params);
  if (value) next.set(name, value);
  else next.delete(name);
  return next;
}
