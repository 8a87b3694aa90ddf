import type { AdminCode, AdminLevel } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import { Input, Tag, Typography, type SelectProps } from "antd";
import { useEffect, useState, type ReactNode } from "react";
import { RequiredAutoComplete, RequiredSelect } from "../components/RequiredSelect";
import { areaSuggestions } from "../identity/access";
import { AreaName } from "./AreaName";
import { searchDivisions } from "./divisions";

interface Option {
  value: string;
  label: ReactNode;
}

/**
 * What to offer for `text` typed into an area field: digits are a code, suggested from the
 * official's own areas (named once governance answers); anything else is a name, or its pinyin
 * initials, looked up in governance's division tree inside those areas (SearchDivisions),
 * optionally of one level (villages for a villager's village).
 */
export function useAreaOptions(text: string, within: AdminCode[], level?: AdminLevel): Option[] {
  const query = text.trim();
  const typedCode = /^\d*$/.test(query);
  const [found, setFound] = useState<Option[]>([]);
  const withinKey = within.map((a) => a.code).join(",");
  useEffect(() => {
    if (query === "" || typedCode) {
      setFound([]);
      return;
    }
    let current = true;
    // Asked once typing pauses, not per key.
    const timer = setTimeout(() => {
      void searchDivisions(query, within, 20, level).then((options) => current && setFound(options));
    }, 250);
    return () => {
      current = false;
      clearTimeout(timer);
    };
    // `within` is rebuilt every render; its codes are what matters.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [query, typedCode, withinKey, level]);
  if (!typedCode) {
    return found;
  }
  return areaSuggestions(query, within).map((code) => ({ value: code, label: <AreaName area={code} /> }));
}

interface AreaInputProps {
  /** The 12-digit code (what the request carries), from the Form.Item. */
  value?: string;
  onChange?: (value: string) => void;
  id?: string;
  /** The official's own areas: the search stays inside them. */
  within: AdminCode[];
  /** Only divisions of this level are found by name. */
  level?: AdminLevel;
  placeholder?: string;
}

/**
 * One area, chosen by name (or pinyin initials) or typed as a code; the field holds the code,
 * and the chosen area's name is shown under it, so an official never has to read 12 digits.
 */
export function AreaInput({ value = "", onChange, within, level, placeholder, ...rest }: AreaInputProps) {
  const options = useAreaOptions(value, within, level);
  const code = value.trim();
  return (
    <>
      <RequiredAutoComplete value={value} onChange={onChange} options={options} {...rest}>
        <Input maxLength={50} autoComplete="off" placeholder={placeholder} />
      </RequiredAutoComplete>
      {/^\d{12}$/.test(code) && (
        <Typography.Text type="secondary" aria-live="polite" style={{ display: "block", marginTop: 4 }}>
          <AreaName area={code} />
        </Typography.Text>
      )}
    </>
  );
}

/**
 * Several areas, each found by name (or pinyin initials) or by its code, and shown by name; the
 * value is their codes. The official's own areas are offered before anything is typed.
 */
export function AreasSelect({
  within,
  level,
  ...props
}: Omit<SelectProps<string[]>, "mode" | "options" | "onSearch" | "filterOption" | "searchValue"> & {
  within: AdminCode[];
  level?: AdminLevel;
}) {
  const [text, setText] = useState("");
  const found = useAreaOptions(text, within, level);
  const offered = text.trim() === "" ? within.map((a) => ({ value: a.code, label: <AreaName area={a} /> })) : found;
  // The chosen ones stay among the options, so each keeps its name as its tag.
  const chosen = (props.value ?? [])
    .filter((code) => !offered.some((o) => o.value === code))
    .map((code) => ({ value: code, label: <AreaName area={code} /> }));
  return (
    <RequiredSelect<string[]>
      {...props}
      mode="multiple"
      showSearch
      filterOption={false}
      searchValue={text}
      onSearch={setText}
      options={[...offered, ...chosen]}
      onChange={(codes, picked) => {
        setText("");
        props.onChange?.(codes, picked);
      }}
    />
  );
}

/** "You may grant in: [余村] [天荒坪镇]", each area by name (code in its tooltip), then `after`. */
export function AreaList({ label, areas, after }: { label: string; areas: AdminCode[]; after?: string }) {
  return (
    <>
      {label}{" "}
      {areas.map((area) => (
        <Tag key={area.code}>
          <AreaName area={area} short />
        </Tag>
      ))}
      {after && <div>{after}</div>}
    </>
  );
}
