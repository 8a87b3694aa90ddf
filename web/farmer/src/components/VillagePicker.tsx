import { useEffect, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { villageSearch, type VillageChoice, type VillageQuery, type VillageSearchState } from "../claim";
import { errorMessage } from "../errors";
import { useOnline } from "../hooks/useOnline";

interface Props {
  /** The input's id (the form focuses it when the village is wrong). */
  id: string;
  label: string;
  /** The village picked, or undefined while none is. */
  chosen: VillageChoice | undefined;
  /** A village picked from the matches, or undefined when the villager types again. */
  onChoose: (village: VillageChoice | undefined) => void;
  /** Asks the server for villages matching the query (SearchDivisions). */
  search: (query: VillageQuery) => Promise<VillageChoice[]>;
  /** The form's or the server's word on the village, shown under the input and linked to it. */
  error?: string;
}

/**
 * The village by name: the villager types part of its name (or "镇名 村名", or pinyin initials),
 * the matches are listed with their full names (two villages may share a name), and picking one
 * chooses its code. Searching waits for typing to pause and shows only the newest text's answer;
 * offline, it says that searching needs a connection.
 */
export function VillagePicker({ id, label, chosen, onChoose, search, error }: Props) {
  const { t } = useTranslation();
  const online = useOnline();
  const [text, setText] = useState(chosen?.name ?? "");
  const [state, setState] = useState<VillageSearchState>({ kind: "idle" });
  const searcher = useMemo(() => villageSearch(search, setState), [search]);
  useEffect(() => () => searcher.stop(), [searcher]);

  // A village chosen from outside (the account's own, once its name is known) fills the text.
  useEffect(() => {
    if (chosen) setText(chosen.name);
  }, [chosen]);

  // Back online with a text and no village: search it now.
  useEffect(() => {
    if (online && !chosen && text.trim() !== "") searcher.typed(text);
    else if (!online) searcher.stop();
    // Only a change of network starts this; typing starts its own searches.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [online]);

  const listId = `${id}-matches`;
  const searching = !chosen && text.trim() !== "";
  let status: string;
  if (chosen) status = t("claim.villageChosen", { place: chosen.fullName });
  else if (!searching) status = t("claim.villageHelp");
  else if (!online) status = t("claim.villageOffline");
  else if (state.kind === "found")
    status = state.choices.length > 0 ? t("claim.villagePick") : t("claim.villageNone", { query: text.trim() });
  else if (state.kind === "failed") status = errorMessage(t, state.error);
  else status = t("claim.villageSearching");
  const choices = searching && online && state.kind === "found" ? state.choices : [];

  return (
    <div className={error ? "field field-invalid" : "field"}>
      <label htmlFor={id}>{label}</label>
      <div className="field-row">
        <input
          id={id}
          className="field-input"
          type="search"
          autoComplete="off"
          enterKeyHint="search"
          placeholder={t("claim.villagePlaceholder")}
          value={text}
          aria-invalid={error ? true : undefined}
          aria-describedby={[error ? `${id}-error` : undefined, `${id}-hint`].filter(Boolean).join(" ")}
          aria-controls={choices.length > 0 ? listId : undefined}
          onChange={(e) => {
            setText(e.target.value);
            if (chosen) onChoose(undefined);
            if (online) searcher.typed(e.target.value);
          }}
        />
      </div>
      {error && (
        <p id={`${id}-error`} className="field-error">
          {error}
        </p>
      )}
      <p id={`${id}-hint`} className="field-hint" aria-live="polite">
        {status}
      </p>
      {choices.length > 0 && (
        <ul id={listId} className="village-matches" aria-label={t("claim.villageMatches")}>
          {choices.map((choice) => (
            <li key={choice.code}>
              <button
                type="button"
                onClick={() => {
                  searcher.stop();
                  setState({ kind: "idle" });
                  setText(choice.name);
                  onChoose(choice);
                }}
              >
                <strong>{choice.name}</strong>
                <span className="village-place">{choice.fullName}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
