import { Button, Flex, Select } from "antd";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";

export interface Page<T> {
  items: T[];
  nextToken: string;
  total?: bigint;
}

/**
 * One server-paged list: page tokens are opaque cursors, so "previous" is a stack of the tokens
 * that led here. `load` is called again when `deps` change (from the first page: call
 * `restart()` with the change) or on `reload()`.
 */
export function useServerPages<T>(
  load: (page: { pageSize: number; pageToken: string }, signal: AbortSignal) => Promise<Page<T>>,
  deps: unknown[],
  enabled = true,
) {
  const [pageSize, setPageSize] = useState(20);
  const [tokens, setTokens] = useState<string[]>([""]);
  const [page, setPage] = useState<Page<T>>();
  const [loading, setLoading] = useState(false);
  const [problem, setProblem] = useState<unknown>();
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    if (!enabled) {
      return;
    }
    const abort = new AbortController();
    setLoading(true);
    setProblem(undefined);
    load({ pageSize, pageToken: tokens[tokens.length - 1] ?? "" }, abort.signal)
      .then(setPage)
      .catch((err: unknown) => {
        if (!abort.signal.aborted) {
          setPage(undefined);
          setProblem(err);
        }
      })
      .finally(() => {
        if (!abort.signal.aborted) {
          setLoading(false);
        }
      });
    return () => abort.abort();
    // `load` is a new closure each render; what it reads is in `deps`.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [pageSize, tokens, generation, enabled, ...deps]);

  return {
    items: page?.items ?? [],
    page,
    loading,
    problem,
    pageNumber: tokens.length,
    pageSize,
    restart: () => setTokens([""]),
    reload: () => setGeneration((n) => n + 1),
    prev: () => setTokens((ts) => (ts.length > 1 ? ts.slice(0, -1) : ts)),
    next: () => {
      if (page?.nextToken) {
        setTokens((ts) => [...ts, page.nextToken]);
      }
    },
    setPageSize: (size: number) => {
      setPageSize(size);
      setTokens([""]);
    },
  };
}

export interface PagerState {
  page: { nextToken: string; total?: bigint } | undefined;
  loading: boolean;
  pageNumber: number;
  pageSize: number;
  prev: () => void;
  next: () => void;
  setPageSize: (size: number) => void;
}

/** Previous / next and page size under a server-paged table. */
export function Pager({ pages: p }: { pages: PagerState }) {
  const { t } = useTranslation();
  return (
    <Flex justify="flex-end" align="center" gap={12} wrap>
      {p.page?.total !== undefined && <span>{t("paging.total", { count: Number(p.page.total) })}</span>}
      <span aria-live="polite">{t("people.page", { page: p.pageNumber })}</span>
      <Button disabled={p.pageNumber <= 1 || p.loading} onClick={p.prev}>
        {t("people.prev")}
      </Button>
      <Button disabled={!p.page?.nextToken || p.loading} onClick={p.next}>
        {t("people.next")}
      </Button>
      <Select
        aria-label={t("people.pageSize")}
        value={p.pageSize}
        onChange={p.setPageSize}
        options={[10, 20, 50, 100].map((n) => ({ value: n, label: t("people.perPage", { count: n }) }))}
      />
    </Flex>
  );
}
