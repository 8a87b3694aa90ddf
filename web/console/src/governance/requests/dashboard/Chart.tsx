import { BarChart } from "echarts/charts";
import { AriaComponent, GridComponent, TooltipComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { SVGRenderer } from "echarts/renderers";
import { useEffect, useRef } from "react";

/**
 * Why Apache ECharts: it is what Chinese government dashboards (数据大屏, 政务看板) are drawn
 * with, so officials read charts that look as they expect; it is an Apache project with a long
 * record; and through `echarts/core` only the parts used here are bundled (bar charts,
 * axes, tooltips, ARIA, the SVG renderer: about 165 kB gzipped) in this route's chunk alone,
 * never in the login route's. @ant-design/plots (G2) would match antd's look, but it loads G2's
 * whole grammar of graphics through one entry, with no per-chart registry to trim it by.
 *
 * SVG rather than canvas: crisp at any zoom and in screenshots, little memory for a few dozen
 * bars. ECharts' ARIA gives the chart `role="img"` and our `label` as its accessible name; the
 * numbers themselves are in a table beside every chart.
 */
echarts.use([BarChart, GridComponent, TooltipComponent, AriaComponent, SVGRenderer]);

export type ChartOption = echarts.EChartsCoreOption;

export function Chart({ option, label, height = 240 }: { option: ChartOption; label: string; height?: number }) {
  const element = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts>(undefined);

  useEffect(() => {
    const dom = element.current;
    if (!dom) return;
    const made = echarts.init(dom, undefined, { renderer: "svg" });
    chart.current = made;
    const resized = new ResizeObserver(() => made.resize());
    resized.observe(dom);
    return () => {
      resized.disconnect();
      made.dispose();
      chart.current = undefined;
    };
  }, []);

  useEffect(() => {
    // Bars grow in unless the official asked their system for less motion.
    const still = globalThis.matchMedia?.("(prefers-reduced-motion: reduce)").matches ?? false;
    chart.current?.setOption({ ...option, animation: !still, aria: { enabled: true, label: { description: label } } }, true);
  }, [option, label]);

  return <div ref={element} style={{ width: "100%", height }} />;
}
