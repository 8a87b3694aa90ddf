import { Navigate } from "react-router";
import { Loading } from "../App";
import { screensFor } from "../identity/access";
import { useMyGrants } from "./CurrentUser";

/** The first screen the user's roles can use: people for officials, their sessions for others. */
export default function Home() {
  const grants = useMyGrants();
  if (!grants) {
    return <Loading />;
  }
  return <Navigate to={`/identity/${screensFor(grants.map((g) => g.role))[0] ?? "sessions"}`} replace />;
}
