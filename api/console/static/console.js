// Draws each chart from the JSON beside it (ECharts, SVG renderer) on first load and after htmx
// swaps content in. Without JavaScript the same numbers stand in the tables.
(function () {
  function draw(root) {
    if (!window.echarts) return;
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      if (el.dataset.drawn) return;
      var spec = document.getElementById(el.dataset.chart);
      if (!spec) return;
      el.dataset.drawn = "1";
      echarts.init(el, null, { renderer: "svg" }).setOption(JSON.parse(spec.textContent));
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    draw(document);
    if (window.htmx) htmx.onLoad(draw);
  });
})();
