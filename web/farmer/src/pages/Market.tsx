import { fromJsonString, toJsonString } from "@bufbuild/protobuf";
import { Code, describeError, newRequestId } from "@terrace/api";
import { AdminLevel } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import type { Money } from "@terrace/api/gen/terrace/common/v1/money_pb";
import type { Quantity } from "@terrace/api/gen/terrace/common/v1/quantity_pb";
import { Unit } from "@terrace/api/gen/terrace/common/v1/quantity_pb";
import {
  FulfilmentMethod,
  ListingStatus,
  type Category,
  type Facet,
  type Listing,
  type ListingSearchResult,
} from "@terrace/api/gen/terrace/market/v1/listings_pb";
import { ListCategoriesResponseSchema, ListingSort, OrderRole, type GetPriceReferenceResponse } from "@terrace/api/gen/terrace/market/v1/market_service_pb";
import { OrderStatus, type Order } from "@terrace/api/gen/terrace/market/v1/orders_pb";
import { fenToYuanText, formatMilli, parseQuantityMilli, parseYuanToFen, totalFen, type AmountProblem } from "@terrace/api/quantity";
import { Button } from "antd-mobile";
import { useCallback, useEffect, useMemo, useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { Link, NavLink, useLocation, useNavigate, useParams } from "react-router";
import { Loading } from "../App";
import { notify } from "../hooks/useInboxFeed";
import { Field } from "../components/Field";
import { errorMessage, explainError } from "../errors";
import { useFormat } from "../format";
import { useOnline } from "../hooks/useOnline";
import { useOutbox } from "../hooks/useOutbox";
import { buyerActions, canBuy, canSell, categoryChips, categoryName, followTopic, groupCategories, highlightParts, listingActions, pickCategory, pressIds, priceBucket, sellerActions } from "../market";
import { base64, isTransient, type OutboxItem } from "../outbox";
import { compressPhoto, myVillage } from "../requests";
import { listingSender, market, type ListingDraft } from "../senders";
import { outbox, sendOutbox } from "../sendOutbox";
import { useSession } from "../session";

/**
 * The market on the phone (tab "集市", one lazy chunk): buy (search with facets, a listing, an
 * order, my orders) for buyers and farmers; sell (a few taps from pictures, kept in the outbox
 * when offline), my listings and the orders that came in, for farmers.
 */

type T = ReturnType<typeof useTranslation>["t"];

const unitName = (t: T, unit: Unit) => t(`market.units.${Unit[unit] ?? "UNSPECIFIED"}` as "market.units.JIN");
const listingStatusName = (t: T, s: ListingStatus) => t(`market.listingStatus.${ListingStatus[s] ?? "UNSPECIFIED"}` as "market.listingStatus.ACTIVE");
const orderStatusName = (t: T, s: OrderStatus) => t(`market.orderStatus.${OrderStatus[s] ?? "UNSPECIFIED"}` as "market.orderStatus.PENDING");
const amountProblem = (t: T, p: AmountProblem) => t(`market.amount.${p}` as "market.amount.format");

function localized(value: { translations: Record<string, string> } | undefined, language: string): string {
  const t = value?.translations ?? {};
  return t[language] || t["zh-CN"] || Object.values(t)[0] || "";
}

/** "12.5 斤" */
function useQuantity() {
  const { t } = useTranslation();
  return useCallback((q: Quantity | undefined) => (q ? `${formatMilli(q.valueMilli)} ${unitName(t, q.unit)}` : ""), [t]);
}

/** "¥3.80/斤" */
function usePrice() {
  const { t } = useTranslation();
  const format = useFormat();
  return useCallback((m: Money | undefined, unit: Unit) => (m ? t("market.perUnit", { price: format.money(m), unit: unitName(t, unit) }) : ""), [t, format]);
}

/** The taxonomy, remembered on the phone so that she can sell offline too. */
const CATEGORIES_KEY = "terrace.farmer.market.categories";
function rememberedCategories(): Category[] {
  try {
    const text = localStorage.getItem(CATEGORIES_KEY);
    return text ? fromJsonString(ListCategoriesResponseSchema, text).categories : [];
  } catch {
    return [];
  }
}

function useCategories(): Category[] {
  const [categories, setCategories] = useState<Category[]>(rememberedCategories);
  useEffect(() => {
    const abort = new AbortController();
    market
      .listCategories({ page: { pageSize: 500 } }, { signal: abort.signal })
      .then((answer) => {
        setCategories(answer.categories);
        try {
          localStorage.setItem(CATEGORIES_KEY, toJsonString(ListCategoriesResponseSchema, answer));
        } catch {
          // Storage full: the remembered copy stays as it was.
        }
      })
      .catch(() => {});
    return () => abort.abort();
  }, []);
  return categories;
}

/** The market's own links under the page title: buy, my orders, and for farmers sell, my listings, orders received. */
function MarketNav() {
  const { t } = useTranslation();
  const roles = useSession().claims?.roles;
  const links = [
    ...(canBuy(roles) ? [{ to: "/market", label: t("market.nav.buy"), end: true }, { to: "/market/orders", label: t("market.nav.myOrders") }] : []),
    ...(canSell(roles)
      ? [
          { to: "/market/mine", label: t("market.nav.myListings") },
          { to: "/market/incoming", label: t("market.nav.incoming") },
        ]
      : []),
  ];
  return (
    <nav className="market-nav" aria-label={t("market.nav.label")}>
      {links.map((l) => (
        <NavLink key={l.to} to={l.to} end={"end" in l} className={({ isActive }) => (isActive ? "market-link active" : "market-link")}>
          {l.label}
        </NavLink>
      ))}
    </nav>
  );
}

function Notice() {
  const location = useLocation();
  const notice = (location.state as { notice?: string } | null)?.notice;
  return notice ? (
    <p className="card notice" role="status">
      {notice}
    </p>
  ) : null;
}

function Problem({ text }: { text?: string }) {
  return text ? (
    <p className="field-error" role="alert">
      {text}
    </p>
  ) : null;
}

function Cover({ listing, categories }: { listing: Listing; categories?: Category[] }) {
  const photo = listing.photos[0];
  const icon = categories?.find((c) => c.id === listing.categoryId)?.icon;
  const src = photo ? photo.thumbnailUri || photo.uri : icon?.uri;
  return src ? <img className="listing-cover" src={src} alt="" /> : <span className="listing-cover" aria-hidden />;
}

// ----- Buy ---------------------------------------------------------------------------------------

type Filters = { categories: string[]; areas: string[]; price?: string };

/**
 * Buy: a search box and the facets the server counts (category, area, price per kg), each value
 * a toggle; results with their photo (or the category's picture), the price per unit and per kg,
 * and the village. The server's highlighted title is rendered as text pieces, never as HTML.
 */
export function BuyPage() {
  const { t, i18n } = useTranslation();
  const price = usePrice();
  const format = useFormat();
  const categories = useCategories();
  const [query, setQuery] = useState("");
  const [asked, setAsked] = useState("");
  // Pressing search again asks again (new listings arrive), even with the same words.
  const [round, setRound] = useState(0);
  const [filters, setFilters] = useState<Filters>({ categories: [], areas: [] });
  const [results, setResults] = useState<ListingSearchResult[]>();
  const [facets, setFacets] = useState<Facet[]>([]);
  const [problem, setProblem] = useState<string>();

  useEffect(() => {
    const abort = new AbortController();
    const range = filters.price ? priceBucket(filters.price) : undefined;
    market
      .searchListings(
        {
          query: asked,
          locale: i18n.language,
          categoryIds: filters.categories,
          areas: filters.areas.map((code) => ({ code, level: AdminLevel.VILLAGE })),
          priceRange: range
            ? {
                min: range.min !== undefined ? { amountMinor: range.min, currencyCode: "CNY" } : undefined,
                max: range.max !== undefined ? { amountMinor: range.max, currencyCode: "CNY" } : undefined,
                perUnit: Unit.KILOGRAM,
              }
            : undefined,
          facets: ["category", "area", "price"],
          areaFacetLevel: AdminLevel.VILLAGE,
          sort: asked ? ListingSort.RELEVANCE : ListingSort.NEWEST,
          page: { pageSize: 50 },
        },
        { signal: abort.signal },
      )
      .then((answer) => {
        setResults(answer.results);
        setFacets(answer.facets);
        setProblem(undefined);
      })
      .catch((err: unknown) => !abort.signal.aborted && setProblem(errorMessage(t, err)));
    return () => abort.abort();
  }, [asked, round, filters, i18n.language, t]);

  const toggle = (field: "categories" | "areas", value: string) =>
    setFilters((f) => ({ ...f, [field]: f[field].includes(value) ? f[field].filter((v) => v !== value) : [...f[field], value] }));
  const facet = (name: string) => facets.find((f) => f.field === name)?.buckets ?? [];
  const chosen = (name: string, value: string) =>
    name === "category" ? filters.categories.includes(value) : name === "area" ? filters.areas.includes(value) : filters.price === value;
  const parentOf = (id: string) => categories.find((c) => c.id === id)?.parentId;
  const pick = (name: string, value: string) =>
    name === "category"
      ? setFilters((f) => ({ ...f, categories: pickCategory(f.categories, value, parentOf) }))
      : name === "area" ? toggle("areas", value) : setFilters((f) => ({ ...f, price: f.price === value ? undefined : value }));
  const priceLabel = (value: string) => {
    const range = priceBucket(value);
    const yuan = (fen: bigint) => format.money({ amountMinor: fen, currencyCode: "CNY" } as Money);
    if (!range) return value;
    if (range.min === undefined) return t("market.priceUpTo", { max: yuan(range.max ?? 0n) });
    if (range.max === undefined) return t("market.priceFrom", { min: yuan(range.min) });
    return `${yuan(range.min)}–${yuan(range.max)}`;
  };

  return (
    <div className="page">
      <h1>{t("market.buyTitle")}</h1>
      <MarketNav />
      <form
        role="search"
        className="search-row"
        onSubmit={(e) => {
          e.preventDefault();
          setAsked(query.trim());
          setRound((n) => n + 1);
        }}
      >
        <label htmlFor="market-query" className="visually-hidden">
          {t("market.searchLabel")}
        </label>
        <input id="market-query" type="search" className="field-input" placeholder={t("market.searchPlaceholder")} value={query} onChange={(e) => setQuery(e.target.value)} />
        <Button color="primary" type="submit">
          {t("market.search")}
        </Button>
      </form>
      {(["category", "area", "price"] as const).map((name) => {
        const chips = name === "category" ? categoryChips(facet(name), filters.categories) : facet(name);
        return chips.length > 0 ? (
          <fieldset key={name} className="facet">
            <legend>{t(`market.facet.${name}`)}</legend>
            {chips.map((b) => (
              <button key={b.value} type="button" className={chosen(name, b.value) ? "chip on" : "chip"} aria-pressed={chosen(name, b.value)} onClick={() => pick(name, b.value)}>
                {"chosenOnly" in b
                  ? categoryName(categories.find((c) => c.id === b.value), i18n.language) || b.value
                  : `${name === "price" ? priceLabel(b.value) : b.label || b.value} (${b.count.toString()})`}
              </button>
            ))}
          </fieldset>
        ) : null;
      })}
      <FollowButton topic={followTopic(filters.categories, filters.areas, results?.[0]?.listing?.villageCode)} name={(id) => categoryName(categories.find((c) => c.id === id), i18n.language) || id} />
      <Problem text={problem} />
      {results === undefined && !problem ? (
        <Loading />
      ) : results && results.length === 0 ? (
        <p className="muted">{t("market.noResults")}</p>
      ) : (
        <ul className="cards" aria-label={t("market.results")}>
          {results?.map((r) => {
            const l = r.listing;
            if (!l) return null;
            const unit = l.stocked?.unit ?? Unit.UNSPECIFIED;
            return (
              <li key={l.id} className="card listing-card">
                <Link to={`/market/listings/${l.id}`} className="listing-link">
                  <Cover listing={l} categories={categories} />
                  <span className="listing-text">
                    <strong className="listing-title">
                      {r.highlightedTitle
                        ? highlightParts(r.highlightedTitle).map((p, i) => (p.em ? <mark key={i}>{p.text}</mark> : <span key={i}>{p.text}</span>))
                        : localized(l.title, i18n.language)}
                    </strong>
                    <span className="listing-price">{price(l.unitPrice, unit)}</span>
                    {l.pricePerKg && unit !== Unit.KILOGRAM && <span className="muted">{price(l.pricePerKg, Unit.KILOGRAM)}</span>}
                    <span className="muted">
                      {l.villageName} · {l.sellerDisplayName}
                    </span>
                  </span>
                </Link>
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}

/** A listing for a buyer, and the order form under it (quantity in the listing's unit, pickup or delivery). */
export function ListingPage() {
  const { listingId = "" } = useParams();
  const { t, i18n } = useTranslation();
  const price = usePrice();
  const quantity = useQuantity();
  const format = useFormat();
  const navigate = useNavigate();
  const categories = useCategories();
  const [listing, setListing] = useState<Listing>();
  const [problem, setProblem] = useState<string>();
  const [amount, setAmount] = useState("");
  const [method, setMethod] = useState<FulfilmentMethod>();
  const [address, setAddress] = useState("");
  const [note, setNote] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [requestId, setRequestId] = useState(() => newRequestId());

  useEffect(() => {
    const abort = new AbortController();
    market
      .getListing({ listingId }, { signal: abort.signal })
      .then((answer) => {
        setListing(answer.listing);
        setMethod((m) => m ?? answer.listing?.fulfilmentMethods[0]);
      })
      .catch((err: unknown) => !abort.signal.aborted && setProblem(errorMessage(t, err)));
    return () => abort.abort();
  }, [listingId, t]);

  if (problem) {
    return (
      <div className="page">
        <Problem text={problem} />
      </div>
    );
  }
  if (!listing) return <Loading />;
  const unit = listing.stocked?.unit ?? Unit.UNSPECIFIED;
  const parsed = parseQuantityMilli(amount);
  const orderable = listing.status === ListingStatus.ACTIVE && !listing.hidden;

  async function order() {
    if (!listing) return;
    const found: Record<string, string> = {};
    if (!parsed.ok) found.quantity = amountProblem(t, parsed.problem);
    if (method === undefined) found.method = t("market.methodRequired");
    if (method === FulfilmentMethod.DELIVERY && !address.trim()) found.address = t("market.addressRequired");
    setErrors(found);
    setMessage(undefined);
    if (Object.keys(found).length > 0 || !parsed.ok) return;
    setBusy(true);
    try {
      const answer = await market.placeOrder({
        requestId,
        order: {
          listingId: listing.id,
          quantity: { valueMilli: parsed.value, unit },
          fulfilmentMethod: method,
          deliveryAddress: method === FulfilmentMethod.DELIVERY ? address.trim() : "",
          buyerNote: note.trim(),
        },
        expectedUnitPrice: listing.unitPrice,
      });
      navigate("/market/orders", { state: { notice: t("market.ordered", { reference: answer.order?.reference ?? "" }) } });
    } catch (err) {
      if (!isTransient(err)) setRequestId(newRequestId());
      const { byField, message: rest } = explainError(t, err, {
        "order.quantity": "quantity",
        "order.fulfilment_method": "method",
        "order.delivery_address": "address",
        "order.buyer_note": "note",
      });
      setErrors(byField as Record<string, string>);
      setMessage(rest);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="page">
      <Link to="/market" className="back-link">
        {t("market.backToSearch")}
      </Link>
      <h1>{localized(listing.title, i18n.language)}</h1>
      <section className="card listing-detail">
        {listing.photos.length > 0 ? (
          <ul className="thumbs">
            {listing.photos.map((p, i) => (
              <li key={p.id || p.uri}>
                <img src={p.thumbnailUri || p.uri} alt={t("market.photoN", { n: i + 1 })} />
              </li>
            ))}
          </ul>
        ) : (
          <Cover listing={listing} categories={categories} />
        )}
        <p className="listing-price">{price(listing.unitPrice, unit)}</p>
        {listing.pricePerKg && unit !== Unit.KILOGRAM && <p className="muted">{price(listing.pricePerKg, Unit.KILOGRAM)}</p>}
        <dl className="facts">
          <dt>{t("market.category")}</dt>
          <dd>{categoryName(categories.find((c) => c.id === listing.categoryId), i18n.language)}</dd>
          <dt>{t("market.available")}</dt>
          <dd>{quantity(listing.available)}</dd>
          <dt>{t("market.village")}</dt>
          <dd>{listing.villageName}</dd>
          <dt>{t("market.seller")}</dt>
          <dd>{listing.sellerDisplayName}</dd>
          <dt>{t("market.status")}</dt>
          <dd>{listingStatusName(t, listing.status)}</dd>
        </dl>
        {localized(listing.description, i18n.language) && <p style={{ whiteSpace: "pre-wrap" }}>{localized(listing.description, i18n.language)}</p>}
      </section>
      {orderable ? (
        <section className="card" aria-labelledby="order-title">
          <h2 id="order-title">{t("market.order")}</h2>
          <Problem text={message} />
          <Field
            id="order-quantity"
            label={t("market.orderQuantity", { unit: unitName(t, unit) })}
            inputMode="decimal"
            value={amount}
            error={errors.quantity}
            hint={parsed.ok && listing.unitPrice ? t("market.total", { total: format.money({ amountMinor: totalFen(listing.unitPrice.amountMinor, parsed.value), currencyCode: "CNY" } as Money) }) : undefined}
            onChange={(e) => setAmount(e.target.value)}
          />
          <fieldset className={errors.method ? "field field-invalid choices" : "field choices"}>
            <legend>{t("market.method")}</legend>
            {listing.fulfilmentMethods.map((m) => (
              <label key={m} className="choice">
                <input type="radio" name="method" checked={method === m} onChange={() => setMethod(m)} />
                {t(m === FulfilmentMethod.DELIVERY ? "market.delivery" : "market.pickup")}
              </label>
            ))}
            {errors.method && <p className="field-error">{errors.method}</p>}
          </fieldset>
          {method === FulfilmentMethod.DELIVERY && (
            <Field id="order-address" label={t("market.address")} value={address} maxLength={200} error={errors.address} onChange={(e) => setAddress(e.target.value)} />
          )}
          <Field id="order-note" label={t("market.note")} value={note} maxLength={500} error={errors.note} onChange={(e) => setNote(e.target.value)} />
          <Button color="primary" block size="large" loading={busy} onClick={() => void order()}>
            {t("market.placeOrder")}
          </Button>
        </section>
      ) : (
        <p className="card muted">{t("market.notOrderable")}</p>
      )}
    </div>
  );
}

/** A reason typed under an action that needs one (decline, cancel). */
function ReasonAction({ id, label, min, busy, onSend }: { id: string; label: string; min: number; busy: boolean; onSend: (reason: string) => void }) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState("");
  if (!open) return <Button onClick={() => setOpen(true)}>{label}</Button>;
  return (
    <div className="reason-form">
      <div className="field">
        <label htmlFor={id}>{t("market.reason")}</label>
        <textarea id={id} className="field-input field-textarea" rows={2} value={reason} onChange={(e) => setReason(e.target.value)} />
      </div>
      <Button color="danger" disabled={reason.trim().length < min} loading={busy} onClick={() => onSend(reason.trim())}>
        {label}
      </Button>
      <Button fill="none" onClick={() => setOpen(false)}>
        {t("market.back")}
      </Button>
    </div>
  );
}

/** One order as either side sees it: what, how much, its status, and the other side's contact once accepted. */
function OrderCard({ order, children }: { order: Order; children?: ReactNode }) {
  const { t, i18n } = useTranslation();
  const quantity = useQuantity();
  const format = useFormat();
  return (
    <li className="card order-card">
      <p className="order-line">
        <strong>{localized(order.listingTitle, i18n.language)}</strong> <span className={`status order-${(OrderStatus[order.status] ?? "").toLowerCase()}`}>{orderStatusName(t, order.status)}</span>
      </p>
      <p>
        {quantity(order.quantity)} · {format.money(order.totalPrice)} · {t(order.fulfilmentMethod === FulfilmentMethod.DELIVERY ? "market.delivery" : "market.pickup")}
      </p>
      <p className="muted">
        {order.reference} · {order.villageName} · {format.dateTime(order.audit?.createTime)}
      </p>
      {order.deliveryAddress && <p>{t("market.deliverTo", { address: order.deliveryAddress })}</p>}
      {order.buyerNote && <p>{t("market.buyerNote", { note: order.buyerNote })}</p>}
      {order.cancelReason && <p className="field-error">{t("market.cancelReason", { reason: order.cancelReason })}</p>}
      {order.counterpart?.phoneNumber && (
        <p className="contact">
          {t("market.contact", { name: order.counterpart.displayName })}{" "}
          <a href={`tel:${order.counterpart.phoneNumber}`}>{order.counterpart.phoneNumber}</a>
        </p>
      )}
      {children}
    </li>
  );
}

/**
 * Runs one order action; the list reloads after it. A press repeated after a lost answer goes
 * under the same request id (`pressIds`), so the server answers it as the first time.
 */
function useOrderAction(reload: () => void) {
  const { t } = useTranslation();
  const [busy, setBusy] = useState<string>();
  const [problem, setProblem] = useState<string>();
  const [ids] = useState(() => pressIds(newRequestId, isTransient));
  const run = async (orderId: string, action: string, what: (requestId: string) => Promise<unknown>) => {
    setBusy(orderId);
    setProblem(undefined);
    try {
      await what(ids.idFor(orderId, action));
      ids.settle(orderId, action);
      reload();
    } catch (err) {
      ids.settle(orderId, action, err);
      setProblem(errorMessage(t, err));
    } finally {
      setBusy(undefined);
    }
  };
  return { busy, problem, run };
}

function useOrders(role: OrderRole) {
  const { t } = useTranslation();
  const [orders, setOrders] = useState<Order[]>();
  const [problem, setProblem] = useState<string>();
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    const abort = new AbortController();
    market
      .listOrders({ asRole: role, page: { pageSize: 100 } }, { signal: abort.signal })
      .then((answer) => {
        setOrders(answer.orders);
        setProblem(undefined);
      })
      .catch((err: unknown) => !abort.signal.aborted && setProblem(errorMessage(t, err)));
    return () => abort.abort();
  }, [role, generation, t]);
  return { orders, problem, reload: () => setGeneration((n) => n + 1) };
}

/** My orders as a buyer: cancel before the hand-over, confirm receipt after it; the seller's contact once accepted. */
export function MyOrdersPage() {
  const { t } = useTranslation();
  const { orders, problem, reload } = useOrders(OrderRole.BUYER);
  const action = useOrderAction(reload);
  return (
    <div className="page">
      <h1>{t("market.myOrders")}</h1>
      <MarketNav />
      <Notice />
      <Problem text={problem ?? action.problem} />
      {orders === undefined && !problem ? (
        <Loading />
      ) : orders?.length === 0 ? (
        <p className="muted">{t("market.noOrders")}</p>
      ) : (
        <ul className="cards" aria-label={t("market.myOrders")}>
          {orders?.map((o) => (
            <OrderCard key={o.id} order={o}>
              <div className="actions">
                {buyerActions(o).map((a) =>
                  a === "cancel" ? (
                    <ReasonAction
                      key={a}
                      id={`cancel-${o.id}`}
                      label={t("market.cancelOrder")}
                      min={1}
                      busy={action.busy === o.id}
                      onSend={(reason) => void action.run(o.id, a, (requestId) => market.cancelOrder({ requestId, orderId: o.id, reason }))}
                    />
                  ) : (
                    <Button key={a} color="primary" loading={action.busy === o.id} onClick={() => void action.run(o.id, a, (requestId) => market.completeOrder({ requestId, orderId: o.id }))}>
                      {t("market.complete")}
                    </Button>
                  ),
                )}
              </div>
            </OrderCard>
          ))}
        </ul>
      )}
    </div>
  );
}

/** Orders on my listings: accept or decline (with a reason); once accepted, handed over or a no-show; the buyer's contact once accepted. */
export function IncomingOrdersPage() {
  const { t } = useTranslation();
  const { orders, problem, reload } = useOrders(OrderRole.SELLER);
  const action = useOrderAction(reload);
  const label: Record<string, string> = {
    accept: t("market.accept"),
    ship: t("market.ship"),
    pickedUp: t("market.pickedUp"),
    noShow: t("market.noShow"),
  };
  const call = (o: Order, a: string) => (requestId: string) => {
    const orderId = o.id;
    if (a === "accept") return market.acceptOrder({ requestId, orderId });
    if (a === "ship") return market.markOrderShipped({ requestId, orderId });
    if (a === "pickedUp") return market.markOrderPickedUp({ requestId, orderId });
    return market.recordNoShow({ requestId, orderId });
  };
  return (
    <div className="page">
      <h1>{t("market.incoming")}</h1>
      <MarketNav />
      <Problem text={problem ?? action.problem} />
      {orders === undefined && !problem ? (
        <Loading />
      ) : orders?.length === 0 ? (
        <p className="muted">{t("market.noIncoming")}</p>
      ) : (
        <ul className="cards" aria-label={t("market.incoming")}>
          {orders?.map((o) => (
            <OrderCard key={o.id} order={o}>
              <div className="actions">
                {sellerActions(o).map((a) =>
                  a === "decline" ? (
                    <ReasonAction
                      key={a}
                      id={`decline-${o.id}`}
                      label={t("market.decline")}
                      min={1}
                      busy={action.busy === o.id}
                      onSend={(reason) => void action.run(o.id, a, (requestId) => market.declineOrder({ requestId, orderId: o.id, reason }))}
                    />
                  ) : (
                    <Button key={a} color={a === "noShow" ? "default" : "primary"} loading={action.busy === o.id} onClick={() => void action.run(o.id, a, call(o, a))}>
                      {label[a]}
                    </Button>
                  ),
                )}
              </div>
            </OrderCard>
          ))}
        </ul>
      )}
    </div>
  );
}

// ----- Sell --------------------------------------------------------------------------------------

/** An outbox item's state as she reads it. */
function QueuedListing({ item }: { item: OutboxItem }) {
  const { t } = useTranslation();
  const text =
    item.state === "waiting" ? t("market.queue.waiting") : item.state === "sent" ? t("market.queue.sent") : t("market.queue.failed", { reason: item.reason ?? "" });
  return (
    <li className="card">
      <p>
        <strong>{item.title}</strong>
      </p>
      <p>{item.summary}</p>
      <p className={item.state === "failed" ? "field-error" : "muted"}>{text}</p>
      {item.state !== "waiting" && <Button onClick={() => void outbox.remove(item.requestId)}>{t("market.queue.remove")}</Button>}
    </li>
  );
}

/** My listings: what waits in the outbox (waiting / sent / failed), then the listings with their stock and what I may do. */
export function MyListingsPage() {
  const { t, i18n } = useTranslation();
  const quantity = useQuantity();
  const price = usePrice();
  const userId = useSession().account?.userId ?? "";
  const queued = useOutbox(userId, "listing");
  const sentCount = queued.filter((q) => q.state === "sent").length;
  const [listings, setListings] = useState<Listing[]>();
  const [problem, setProblem] = useState<string>();
  const [generation, setGeneration] = useState(0);
  const [busy, setBusy] = useState<string>();

  useEffect(() => {
    const abort = new AbortController();
    market
      .listListings({ page: { pageSize: 100 } }, { signal: abort.signal })
      .then((answer) => {
        setListings(answer.listings);
        setProblem(undefined);
      })
      .catch((err: unknown) => !abort.signal.aborted && setProblem(errorMessage(t, err)));
    return () => abort.abort();
  }, [generation, sentCount, t]);

  // A press repeated after a lost answer goes under the same request id.
  const [ids] = useState(() => pressIds(newRequestId, isTransient));
  const act = async (l: Listing, a: "publish" | "pause" | "close") => {
    setBusy(l.id);
    setProblem(undefined);
    try {
      const requestId = ids.idFor(l.id, a);
      if (a === "publish") await market.publishListing({ requestId, listingId: l.id });
      else if (a === "pause") await market.pauseListing({ requestId, listingId: l.id });
      else await market.closeListing({ requestId, listingId: l.id });
      ids.settle(l.id, a);
      setGeneration((n) => n + 1);
    } catch (err) {
      ids.settle(l.id, a, err);
      setProblem(errorMessage(t, err));
    } finally {
      setBusy(undefined);
    }
  };
  const actionLabel = { publish: t("market.publish"), pause: t("market.pause"), close: t("market.close") };

  return (
    <div className="page">
      <h1>{t("market.myListings")}</h1>
      <MarketNav />
      <Notice />
      <Link to="/market/sell" className="adm-button adm-button-primary adm-button-block adm-button-large big-link">
        {t("market.sell")}
      </Link>
      {queued.length > 0 && (
        <section aria-labelledby="listing-outbox-title">
          <h2 id="listing-outbox-title">{t("market.queue.title")}</h2>
          <ul className="cards" aria-label={t("market.queue.title")}>
            {queued.map((q) => (
              <QueuedListing key={q.requestId} item={q} />
            ))}
          </ul>
        </section>
      )}
      <Problem text={problem} />
      {listings === undefined && !problem ? (
        <Loading />
      ) : listings?.length === 0 ? (
        <p className="muted">{t("market.noListings")}</p>
      ) : (
        <ul className="cards" aria-label={t("market.myListings")}>
          {listings?.map((l) => {
            const unit = l.stocked?.unit ?? Unit.UNSPECIFIED;
            return (
              <li key={l.id} className="card">
                <p className="order-line">
                  <strong>{localized(l.title, i18n.language)}</strong> <span className={`status listing-${(ListingStatus[l.status] ?? "").toLowerCase()}`}>{listingStatusName(t, l.status)}</span>
                </p>
                <p>{price(l.unitPrice, unit)}</p>
                <p className="muted">
                  {t("market.stock", { available: quantity(l.available), reserved: quantity(l.reserved), sold: quantity(l.sold) })}
                </p>
                {l.hidden && (
                  <p className="field-error" role="note">
                    {t("market.hiddenBecause", { reason: l.hiddenReason })}
                  </p>
                )}
                <div className="actions">
                  {listingActions(l.status).map((a) => (
                    <Button key={a} size="small" loading={busy === l.id} onClick={() => void act(l, a)}>
                      {actionLabel[a]}
                    </Button>
                  ))}
                </div>
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}

/** The price reference beside the price, when the server answers one (GetPriceReference; hidden while it is not built, or fails). */
function PriceReference({ categoryId, unit, village }: { categoryId: string; unit: Unit; village?: string }) {
  const { t } = useTranslation();
  const price = usePrice();
  const [reference, setReference] = useState<GetPriceReferenceResponse>();
  useEffect(() => {
    setReference(undefined);
    if (!categoryId || !unit || !navigator.onLine) return;
    const abort = new AbortController();
    market
      .getPriceReference(
        { categoryId, unit, windowDays: 30, area: village ? { code: `${village.slice(0, 6)}000000`, level: AdminLevel.COUNTY } : undefined },
        { signal: abort.signal },
      )
      .then(setReference)
      .catch(() => {}); // UNIMPLEMENTED (not built yet) or anything else: no reference shown.
    return () => abort.abort();
  }, [categoryId, unit, village]);
  const stats = reference?.completedOrders?.count ? reference.completedOrders : reference?.activeListings;
  if (!stats?.median || stats.count === 0n) return null;
  return <p className="field-hint price-reference">{t("market.reference", { median: price(stats.median, unit), low: price(stats.p25, unit), high: price(stats.p75, unit) })}</p>;
}

/**
 * Sell in a few taps: the produce picked from pictures (grouped as the taxonomy is), how much in
 * the unit she uses (the category's default, its other units selectable), the price per unit in
 * yuan (the reference beside it when the server has one), a title made from the category's name,
 * photos compressed on the phone, pickup or delivery; then published. The request id is made
 * when she presses sell; offline (or when the network fails on the way) it goes to the outbox
 * and is sent once the phone is back online.
 */
export function SellPage() {
  const { t, i18n } = useTranslation();
  const navigate = useNavigate();
  const online = useOnline();
  const snapshot = useSession();
  const userId = snapshot.account?.userId ?? "";
  const village = myVillage(snapshot.claims?.roles?.filter((r) => r.role === "farmer"));
  const categories = useCategories();
  const groups = useMemo(() => groupCategories(categories), [categories]);
  const [categoryId, setCategoryId] = useState("");
  const category = categories.find((c) => c.id === categoryId);
  const [unit, setUnit] = useState<Unit>(Unit.UNSPECIFIED);
  const [amount, setAmount] = useState("");
  const [yuan, setYuan] = useState("");
  const [title, setTitle] = useState("");
  const [methods, setMethods] = useState<FulfilmentMethod[]>([FulfilmentMethod.PICKUP]);
  const [photos, setPhotos] = useState<{ requestId: string; jpegBase64: string; url: string }[]>([]);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<string>();
  const [busy, setBusy] = useState(false);

  const choose = (c: Category) => {
    setCategoryId(c.id);
    setUnit(c.defaultUnit);
    setTitle(categoryName(c, i18n.language));
    setErrors((e) => ({ ...e, category: "" }));
  };

  async function addPhotos(files: FileList | null) {
    for (const file of Array.from(files ?? []).slice(0, 9 - photos.length)) {
      try {
        const jpeg = await compressPhoto(file);
        const url = URL.createObjectURL(new Blob([jpeg as BlobPart], { type: "image/jpeg" }));
        setPhotos((ps) => [...ps, { requestId: newRequestId(), jpegBase64: base64(jpeg), url }]);
      } catch {
        setErrors((e) => ({ ...e, photos: t("market.photoUnreadable") }));
      }
    }
  }

  async function sell() {
    const stocked = parseQuantityMilli(amount);
    const fen = parseYuanToFen(yuan);
    const found: Record<string, string> = {};
    if (!category) found.category = t("market.categoryRequired");
    if (!stocked.ok) found.quantity = amountProblem(t, stocked.problem);
    if (!fen.ok) found.price = amountProblem(t, fen.problem);
    if (!title.trim()) found.title = t("market.titleRequired");
    if (methods.length === 0) found.methods = t("market.methodRequired");
    setErrors(found);
    setMessage(undefined);
    if (Object.keys(found).length > 0 || !category || !stocked.ok || !fen.ok) return;
    // The request id is made now, when she presses sell, and kept with the item in the outbox.
    const item: OutboxItem<ListingDraft> = {
      kind: "listing",
      requestId: newRequestId(),
      userId,
      queuedAt: Date.now(),
      title: title.trim(),
      summary: `${formatMilli(stocked.value)} ${unitName(t, unit)} · ¥${fenToYuanText(fen.value)}/${unitName(t, unit)}`,
      payload: {
        categoryId: category.id,
        title: title.trim(),
        villageCode: "",
        unit,
        stockedMilli: stocked.value.toString(),
        unitPriceFen: fen.value.toString(),
        fulfilmentMethods: methods,
      },
      photos: photos.map((p) => ({ requestId: p.requestId, jpegBase64: p.jpegBase64 })),
      state: "waiting",
    };
    const keep = async () => {
      try {
        await outbox.put(item);
        navigate("/market/mine", { state: { notice: t("market.queuedNotice") } });
      } catch {
        setMessage(t("market.storageFull"));
      }
    };
    if (!navigator.onLine) return keep();
    setBusy(true);
    try {
      const ids: string[] = [];
      for (const p of item.photos) ids.push(await listingSender.upload(p.requestId, Uint8Array.from(atob(p.jpegBase64), (c) => c.charCodeAt(0))));
      await listingSender.create(item, ids);
      navigate("/market/mine", { state: { notice: t("market.published", { title: item.title }) } });
    } catch (err) {
      if (isTransient(err)) {
        await keep();
        void sendOutbox(userId, (e) => errorMessage(t, e));
        return;
      }
      const { byField, message: rest } = explainError(t, err, {
        "listing.category_id": "category",
        "listing.stocked": "quantity",
        "listing.stocked.value_milli": "quantity",
        "listing.stocked.unit": "quantity",
        "listing.unit_price": "price",
        "listing.unit_price.amount_minor": "price",
        "listing.title": "title",
        "listing.photos": "photos",
        "listing.fulfilment_methods": "methods",
      });
      setErrors(byField as Record<string, string>);
      setMessage(rest ?? (describeError(err).code === Code.InvalidArgument ? undefined : errorMessage(t, err)));
    } finally {
      setBusy(false);
    }
  }

  if (!village) {
    return (
      <div className="page">
        <h1>{t("market.sell")}</h1>
        <p className="card">{t("market.notFarmer")}</p>
      </div>
    );
  }
  return (
    <div className="page">
      <Link to="/market/mine" className="back-link">
        {t("market.backToListings")}
      </Link>
      <h1>{t("market.sell")}</h1>
      {!online && <p className="card muted">{t("market.offlineHint")}</p>}
      <Problem text={message} />
      <fieldset className={errors.category ? "field field-invalid" : "field"} aria-describedby={errors.category ? "category-error" : undefined}>
        <legend>{t("market.whatProduce")}</legend>
        {groups.length === 0 && <p className="muted">{t("market.noCategories")}</p>}
        {groups.map(({ group, leaves }) => (
          <div key={group.id} className="category-group" role="group" aria-labelledby={`group-${group.id}`}>
            <h3 id={`group-${group.id}`}>{categoryName(group, i18n.language)}</h3>
            <div className="category-grid">
              {leaves.map((c) => (
                <label key={c.id} className={c.id === categoryId ? "category-tile on" : "category-tile"}>
                  <input type="radio" name="category" value={c.id} checked={c.id === categoryId} onChange={() => choose(c)} className="visually-hidden" />
                  {c.icon?.uri && <img src={c.icon.uri} alt="" width={48} height={48} />}
                  <span>{categoryName(c, i18n.language)}</span>
                </label>
              ))}
            </div>
          </div>
        ))}
        {errors.category && (
          <p id="category-error" className="field-error">
            {errors.category}
          </p>
        )}
      </fieldset>
      {category && (
        <>
          <div className={errors.quantity ? "field field-invalid" : "field"}>
            <label htmlFor="sell-quantity">{t("market.howMuch")}</label>
            <div className="field-row">
              <input
                id="sell-quantity"
                className="field-input"
                inputMode="decimal"
                value={amount}
                aria-invalid={errors.quantity ? true : undefined}
                aria-describedby={errors.quantity ? "sell-quantity-error" : undefined}
                onChange={(e) => setAmount(e.target.value)}
              />
              <select id="sell-unit" className="field-input unit-select" aria-label={t("market.unit")} value={unit} onChange={(e) => setUnit(Number(e.target.value) as Unit)}>
                {category.allowedUnits.map((u) => (
                  <option key={u} value={u}>
                    {unitName(t, u)}
                  </option>
                ))}
              </select>
            </div>
            {errors.quantity && (
              <p id="sell-quantity-error" className="field-error">
                {errors.quantity}
              </p>
            )}
          </div>
          <Field
            id="sell-price"
            label={t("market.pricePer", { unit: unitName(t, unit) })}
            inputMode="decimal"
            value={yuan}
            error={errors.price}
            onChange={(e) => setYuan(e.target.value)}
          />
          <PriceReference categoryId={category.id} unit={unit} village={village} />
          <Field id="sell-title" label={t("market.title")} value={title} maxLength={60} error={errors.title} onChange={(e) => setTitle(e.target.value)} />
          <div className={errors.photos ? "field field-invalid" : "field"}>
            <label htmlFor="sell-photos">{t("market.photos")}</label>
            <input id="sell-photos" type="file" accept="image/*" capture="environment" multiple className="file-input" aria-describedby="sell-photos-hint" onChange={(e) => void addPhotos(e.target.files)} />
            <p id="sell-photos-hint" className={errors.photos ? "field-error" : "field-hint"}>
              {errors.photos || t("market.photosHint")}
            </p>
            <ul className="thumbs">
              {photos.map((p, i) => (
                <li key={p.requestId}>
                  <img src={p.url} alt={t("market.photoN", { n: i + 1 })} />
                  <Button size="small" onClick={() => setPhotos((ps) => ps.filter((x) => x !== p))} aria-label={t("market.removePhoto", { n: i + 1 })}>
                    {t("market.remove")}
                  </Button>
                </li>
              ))}
            </ul>
          </div>
          <fieldset className={errors.methods ? "field field-invalid choices" : "field choices"}>
            <legend>{t("market.method")}</legend>
            {[FulfilmentMethod.PICKUP, FulfilmentMethod.DELIVERY].map((m) => (
              <label key={m} className="choice">
                <input
                  type="checkbox"
                  checked={methods.includes(m)}
                  onChange={(e) => setMethods((ms) => (e.target.checked ? [...ms, m].sort() : ms.filter((x) => x !== m)))}
                />
                {t(m === FulfilmentMethod.DELIVERY ? "market.delivery" : "market.pickup")}
              </label>
            ))}
            {errors.methods && <p className="field-error">{errors.methods}</p>}
          </fieldset>
        </>
      )}
      <Button color="primary" block size="large" loading={busy} onClick={() => void sell()}>
        {online ? t("market.publishNow") : t("market.publishLater")}
      </Button>
    </div>
  );
}

/**
 * 上新时通知我: follows the chosen category in its county (notify's CreateSubscription); a new
 * listing of it there then arrives in 消息. Following it again says so, nothing more.
 */
function FollowButton({ topic, name }: { topic?: { categoryId: string; county: string }; name: (id: string) => string }) {
  const { t } = useTranslation();
  const [said, setSaid] = useState<string>();
  const [busy, setBusy] = useState(false);
  useEffect(() => setSaid(undefined), [topic?.categoryId, topic?.county]);
  if (!topic) return null;
  const follow = async () => {
    setBusy(true);
    try {
      await notify.createSubscription({
        requestId: newRequestId(),
        subscription: {
          topic: { case: "marketCategory", value: { categoryId: topic.categoryId, area: { code: topic.county, level: AdminLevel.COUNTY } } },
        },
      });
      setSaid(t("market.followed"));
    } catch (err) {
      setSaid(describeError(err).code === Code.AlreadyExists ? t("market.alreadyFollowed") : errorMessage(t, err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="actions">
      <Button size="small" loading={busy} onClick={() => void follow()}>
        {t("market.follow", { category: name(topic.categoryId) })}
      </Button>
      {said && (
        <p className="muted" role="status">
          {said}
        </p>
      )}
    </div>
  );
}
