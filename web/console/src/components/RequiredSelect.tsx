import { AutoComplete, Select, type AutoCompleteProps, type RefSelectProps, type SelectProps } from "antd";
import { useEffect, useRef } from "react";

/**
 * antd's Form.Item gives its child `aria-required`, which rc-select puts on both its root `div`
 * (where no role allows it: axe aria-allowed-attr, critical) and the combobox input inside. These
 * wrappers take it off the root and keep it on the input, for Selects and AutoCompletes in
 * required form fields.
 */
function useRequiredInput(required: unknown) {
  const ref = useRef<RefSelectProps>(null);
  useEffect(() => {
    ref.current?.nativeElement?.querySelector("input")?.setAttribute("aria-required", String(required === "true" || required === true));
  });
  return ref;
}

type AriaRequired = { "aria-required"?: string | boolean };

/** A Select for a required Form.Item. */
export function RequiredSelect<T>(props: SelectProps<T>) {
  const { "aria-required": required, ...rest } = props as SelectProps<T> & AriaRequired;
  const ref = useRequiredInput(required);
  return <Select<T> ref={ref} {...rest} />;
}

/** An AutoComplete for a required Form.Item. */
export function RequiredAutoComplete(props: AutoCompleteProps) {
  const { "aria-required": required, ...rest } = props as AutoCompleteProps & AriaRequired;
  const ref = useRequiredInput(required);
  return <AutoComplete ref={ref} {...rest} />;
}
