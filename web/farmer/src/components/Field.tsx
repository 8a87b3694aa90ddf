import type { InputHTMLAttributes, ReactNode } from "react";

interface Props extends Omit<InputHTMLAttributes<HTMLInputElement>, "id"> {
  id: string;
  label: string;
  /** Shown under the input in red and linked to it (`aria-describedby`, `aria-invalid`). */
  error?: string;
  /** Help under the input, also linked. */
  hint?: ReactNode;
  /** Beside the input (a "send code" button). */
  action?: ReactNode;
}

/**
 * A labelled text input with its error beside it, in plain HTML. The login screen uses this
 * rather than antd-mobile's Form (rc-field-form, async-validator, a popover library): the first
 * screen, loaded over a village's mobile network, stays small, and the error is tied to its input
 * for screen readers, which antd-mobile's Form.Item does not do.
 */
export function Field({ id, label, error, hint, action, ...input }: Props) {
  const describedBy = [error ? `${id}-error` : undefined, hint ? `${id}-hint` : undefined]
    .filter(Boolean)
    .join(" ");
  return (
    <div className={error ? "field field-invalid" : "field"}>
      <label htmlFor={id}>{label}</label>
      <div className="field-row">
        <input
          id={id}
          className="field-input"
          aria-invalid={error ? true : undefined}
          aria-describedby={describedBy || undefined}
          {...input}
        />
        {action}
      </div>
      {error && (
        <p id={`${id}-error`} className="field-error">
          {error}
        </p>
      )}
      {hint && (
        <p id={`${id}-hint`} className="field-hint" aria-live="polite">
          {hint}
        </p>
      )}
    </div>
  );
}
