/** "天荒坪镇 · 浙江省 湖州市 安吉县": the name, then the places above it. */
export function describeDivision(name: string, fullName: string): string {
  const above = fullName.endsWith(name) ? fullName.slice(0, fullName.length - name.length).trim() : "";
  return above ? `${name} · ${above}` : name;
}
