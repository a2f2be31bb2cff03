/* Touchup staff pages: the little behaviour htmx does not cover.
 *
 * No inline scripts anywhere (the pages are CSP-ready: script-src 'self'); this file
 * wires itself to elements by data attributes. Nothing is kept in localStorage or
 * sessionStorage: patient data lives on the server only.
 *
 * The chart editor treats the table of points as the truth. The SVG maps are drawn
 * from the table, so everything the mouse does can also be done from the keyboard in
 * the table, and the form posts exactly what the clinician sees.
 */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  var SVGNS = "http://www.w3.org/2000/svg";
  var WIDTH = 400, HEIGHT = 500;

  function onReady(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  function fmt(n) {
    // 2.5 → "2.5", 4 → "4": units as a clinician writes them.
    return (Math.round(n * 100) / 100).toString();
  }

  /* --- vial reconstitution: show the concentration before saving ------------------ */
  function initReconstitute(form) {
    var input = form.querySelector("[name=diluent_ml]");
    var out = form.querySelector("[data-per-01]");
    var units = parseFloat(form.getAttribute("data-units"));
    if (!input || !out || !units) return;
    function update() {
      var ml = parseFloat(input.value);
      out.textContent = ml > 0 ? fmt(units / (ml * 10)) + " U per 0.1 mL" : "—";
    }
    input.addEventListener("input", update);
    update();
  }

  /* --- start treatment: a protocol implies its product --------------------------- */
  function initStartForm(form) {
    // The indication's protocols arrive by htmx; a protocol chosen meanwhile stays chosen
    // if the new list still has it (a late answer must not undo the clinician's choice).
    var protocol = form.querySelector("[name=protocol]");
    var chosen = "";
    form.addEventListener("htmx:beforeSwap", function (e) {
      if (e.detail.target === protocol) chosen = protocol.value;
    });
    form.addEventListener("htmx:afterSwap", function (e) {
      if (e.detail.target !== protocol || !chosen) return;
      if (protocol.querySelector('option[value="' + chosen + '"]')) protocol.value = chosen;
    });
    form.addEventListener("change", function (e) {
      if (e.target.name !== "protocol") return;
      var opt = e.target.selectedOptions[0];
      var product = opt && opt.getAttribute("data-product");
      var select = form.querySelector("[name=product]");
      if (product && select) select.value = product;
    });
  }

  /* --- the chart ----------------------------------------------------------------- */
  function initChart(form) {
    var editable = form.getAttribute("data-editable") === "true";
    var body = form.querySelector("[data-points-body]");
    var template = document.getElementById("point-row-template");
    var sitesEl = document.getElementById("chart-sites");
    var sites = sitesEl ? JSON.parse(sitesEl.textContent) : [];
    var svgs = Array.prototype.slice.call(form.querySelectorAll("svg.chart-svg"));
    var vialSelect = form.querySelector("[name=vial]");
    var newArea = form.querySelector("[data-new-area]");
    var selected = null;
    var drag = null;
    var timer = null;

    function rows() { return Array.prototype.slice.call(body.querySelectorAll("tr[data-point]")); }
    function field(row, name) { return row.querySelector("[name=" + name + "]"); }
    function val(row, name) {
      var f = field(row, name);
      // Read-only rows carry their values as data attributes instead of inputs.
      return f ? f.value : (row.getAttribute("data-" + name) || "");
    }
    function units(row) { var u = parseFloat(val(row, "units")); return isFinite(u) && u > 0 ? u : null; }
    function label(row) { return row.querySelector("[data-site-name]").textContent.trim(); }

    function saveSoon(delay) {
      clearTimeout(timer);
      timer = setTimeout(save, delay);
    }
    function save() {
      clearTimeout(timer);
      if (window.htmx) window.htmx.trigger(form, "chart-changed");
    }

    function renumber() {
      rows().forEach(function (row, i) {
        var n = i + 1, name = label(row);
        row.querySelector("[data-idx]").textContent = n;
        var labels = { units: "Units at point ", area: "Area of point " };
        Object.keys(labels).forEach(function (name_) {
          var f = field(row, name_);  // read-only rows have no inputs
          if (f) f.setAttribute("aria-label", labels[name_] + n + " (" + name + ")");
        });
        var rm = row.querySelector("[data-remove]");
        if (rm) rm.setAttribute("aria-label", "Remove point " + n + " (" + name + ")");
        row.classList.toggle("no-units", units(row) === null);
      });
    }

    function total() {
      var sum = 0;
      rows().forEach(function (row) { sum += units(row) || 0; });
      var el = document.querySelector("[data-live-total]");
      if (el) el.textContent = fmt(sum);
    }

    function draw() {
      svgs.forEach(function (svg) {
        var layer = svg.querySelector("g.points");
        while (layer.firstChild) layer.removeChild(layer.firstChild);
        rows().forEach(function (row, i) {
          if (val(row, "view") !== svg.getAttribute("data-view")) return;
          layer.appendChild(pointShape(row, i + 1));
        });
      });
      total();
    }

    function pointShape(row, n) {
      var x = parseFloat(val(row, "x")), y = parseFloat(val(row, "y"));
      var u = units(row);
      var g = document.createElementNS(SVGNS, "g");
      g.setAttribute("class", "point" + (u === null ? " no-units" : "") + (row === selected ? " selected" : ""));
      g.setAttribute("transform", "translate(" + x + " " + y + ")");
      g.setAttribute("tabindex", "0");
      g.setAttribute("role", "button");
      g.setAttribute("aria-label", "Point " + n + ", " + label(row) + ", " + (u === null ? "no units yet" : fmt(u) + " units") +
        (editable ? ". Arrow keys move it, Delete removes it, Enter edits the units." : ""));
      g._row = row;
      // The dose sits inside the dot: the map reads like a paper chart. The point's
      // number (which row it is) is in its label and highlighted when selected.
      var halo = document.createElementNS(SVGNS, "circle");
      halo.setAttribute("class", "halo"); halo.setAttribute("r", "14");
      var dot = document.createElementNS(SVGNS, "circle");
      dot.setAttribute("class", "dot"); dot.setAttribute("r", "10");
      var dose = document.createElementNS(SVGNS, "text");
      dose.setAttribute("class", "dose");
      dose.textContent = u === null ? "?" : fmt(u);
      g.appendChild(halo); g.appendChild(dot); g.appendChild(dose);
      return g;
    }

    function select(row, focusUnits) {
      selected = row;
      rows().forEach(function (r) { r.classList.toggle("selected", r === row); });
      svgs.forEach(function (svg) {
        Array.prototype.forEach.call(svg.querySelectorAll("g.point"), function (g) {
          g.classList.toggle("selected", g._row === row);
        });
      });
      if (row && focusUnits && editable) {
        var f = field(row, "units");
        f.focus(); f.select();
      }
    }

    function toSvg(svg, e) {
      var pt = svg.createSVGPoint();
      pt.x = e.clientX; pt.y = e.clientY;
      var p = pt.matrixTransform(svg.getScreenCTM().inverse());
      return { x: Math.min(WIDTH, Math.max(0, p.x)), y: Math.min(HEIGHT, Math.max(0, p.y)) };
    }

    function setXY(row, p) {
      field(row, "x").value = fmt(Math.round(p.x * 10) / 10);
      field(row, "y").value = fmt(Math.round(p.y * 10) / 10);
    }

    function nearestSiteArea(view, p) {
      var best = null, bestD = Infinity;
      sites.forEach(function (s) {
        if (s.view !== view) return;
        var d = Math.hypot(s.x - p.x, s.y - p.y);
        if (d < bestD) { bestD = d; best = s; }
      });
      return best ? best.area : null;
    }

    function addPoint(view, p) {
      var row = template.content.firstElementChild.cloneNode(true);
      field(row, "view").value = view;
      setXY(row, p);
      var area = newArea && newArea.value ? newArea.value : nearestSiteArea(view, p);
      var areaSelect = field(row, "area");
      if (area) areaSelect.value = area;
      if (vialSelect && vialSelect.value && vialSelect.value !== "__keep__") field(row, "vial_id").value = vialSelect.value;
      body.appendChild(row);
      var empty = form.querySelector("[data-no-points]");
      if (empty) empty.hidden = true;
      renumber(); draw(); select(row, true);
      save();
    }

    function removeRow(row) {
      var next = row.nextElementSibling || row.previousElementSibling;
      row.parentNode.removeChild(row);
      if (selected === row) selected = null;
      renumber(); draw();
      if (next && next.matches("tr[data-point]")) select(next, false);
      save();
    }

    function shapeFor(row) {
      var found = null;
      svgs.forEach(function (svg) {
        Array.prototype.forEach.call(svg.querySelectorAll("g.point"), function (g) { if (g._row === row) found = g; });
      });
      return found;
    }

    /* map: add, select, drag */
    svgs.forEach(function (svg) {
      svg.addEventListener("pointerdown", function (e) {
        if (e.button !== 0) return;
        var g = e.target.closest ? e.target.closest("g.point") : null;
        if (!editable) { if (g) select(g._row, false); return; }
        drag = { svg: svg, g: g, start: toSvg(svg, e), moved: false, id: e.pointerId };
        svg.setPointerCapture(e.pointerId);
        e.preventDefault();
      });
      svg.addEventListener("pointermove", function (e) {
        if (!drag || drag.id !== e.pointerId || !drag.g) return;
        var p = toSvg(svg, e);
        if (!drag.moved && Math.hypot(p.x - drag.start.x, p.y - drag.start.y) < 3) return;
        drag.moved = true;
        drag.g.classList.add("dragging");
        drag.g.setAttribute("transform", "translate(" + p.x + " " + p.y + ")");
      });
      svg.addEventListener("pointerup", function (e) {
        if (!drag || drag.id !== e.pointerId) return;
        var d = drag; drag = null;
        var p = toSvg(svg, e);
        if (d.g) {
          if (d.moved) { setXY(d.g._row, p); draw(); select(d.g._row, false); save(); }
          else select(d.g._row, true);
        } else if (Math.hypot(p.x - d.start.x, p.y - d.start.y) < 6) {
          addPoint(svg.getAttribute("data-view"), p);
        }
      });
      svg.addEventListener("pointercancel", function () { drag = null; draw(); });
      svg.addEventListener("keydown", function (e) {
        var g = e.target.closest ? e.target.closest("g.point") : null;
        if (!g) return;
        var row = g._row;
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(row, true); return; }
        if (!editable) return;
        if (e.key === "Delete" || e.key === "Backspace") { e.preventDefault(); removeRow(row); return; }
        var step = e.shiftKey ? 10 : 2;
        var dx = { ArrowLeft: -step, ArrowRight: step }[e.key] || 0;
        var dy = { ArrowUp: -step, ArrowDown: step }[e.key] || 0;
        if (!dx && !dy) return;
        e.preventDefault();
        setXY(row, {
          x: Math.min(WIDTH, Math.max(0, parseFloat(val(row, "x")) + dx)),
          y: Math.min(HEIGHT, Math.max(0, parseFloat(val(row, "y")) + dy))
        });
        draw(); select(row, false);
        var moved = shapeFor(row); if (moved) moved.focus();
        saveSoon(500);
      });
    });

    /* table: units, area, remove */
    body.addEventListener("input", function (e) {
      if (e.target.name !== "units") return;
      var row = e.target.closest("tr");
      row.classList.toggle("no-units", units(row) === null);
      e.target.removeAttribute("aria-invalid");
      draw(); select(row, false);
      saveSoon(450);
    });
    body.addEventListener("change", function (e) {
      if (e.target.name === "units" || e.target.name === "area") { draw(); save(); }
    });
    body.addEventListener("focusin", function (e) {
      var row = e.target.closest("tr[data-point]");
      if (row && row !== selected) select(row, false);
    });
    body.addEventListener("click", function (e) {
      var rm = e.target.closest("[data-remove]");
      if (rm) removeRow(rm.closest("tr"));
    });
    if (vialSelect) {
      vialSelect.addEventListener("change", function () {
        if (vialSelect.value !== "__keep__") {
          rows().forEach(function (row) { field(row, "vial_id").value = vialSelect.value; });
        }
        save();
      });
    }
    // Enter in a units box saves through htmx instead of reloading the page.
    form.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && e.target.name === "units") { e.preventDefault(); save(); }
    });

    /* the server names the field it rejected: mark that input */
    document.body.addEventListener("htmx:afterSwap", function () {
      rows().forEach(function (row) {
        Array.prototype.forEach.call(row.querySelectorAll("[aria-invalid]"), function (el) { el.removeAttribute("aria-invalid"); });
      });
      var err = document.querySelector("#chart-status [data-error-field]");
      if (!err) return;
      var m = /^points\[(\d+)\]\.?(\w*)/.exec(err.getAttribute("data-error-field"));
      if (!m) return;
      var row = rows()[parseInt(m[1], 10)];
      if (!row) return;
      var f = field(row, m[2] || "units") || field(row, "units");
      if (f) f.setAttribute("aria-invalid", "true");
    });

    renumber();
    draw();
  }

  /* --- record a reading: list only the readings for the area chosen ----------------
   * The server lists the readings for all of the patient's areas (each option's
   * data-areas says which); this hides the rest, so a glabella offers only the wrinkle
   * grade and migraine only headache days. Without JavaScript the grouped list stands,
   * and the server still refuses a reading that does not fit the area. */
  function initReadingForm(form) {
    var area = form.querySelector("[name=area]");
    var kind = form.querySelector("[name=kind]");
    if (!area || !kind) return;
    function update() {
      var first = null, keep = false;
      Array.prototype.forEach.call(kind.querySelectorAll("option[data-areas]"), function (opt) {
        var fits = opt.getAttribute("data-areas").split(" ").indexOf(area.value) !== -1;
        opt.hidden = !fits;
        opt.disabled = !fits;
        if (fits && !first) first = opt;
        if (fits && opt.selected) keep = true;
      });
      Array.prototype.forEach.call(kind.querySelectorAll("optgroup"), function (group) {
        group.hidden = !group.querySelector("option:not([hidden])");
      });
      if (!keep && first) first.selected = true;
    }
    area.addEventListener("change", update);
    update();
  }

  onReady(function () {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-reading-form]"), initReadingForm);
    Array.prototype.forEach.call(document.querySelectorAll("form[data-chart]"), initChart);
    Array.prototype.forEach.call(document.querySelectorAll("form[data-reconstitute]"), initReconstitute);
    Array.prototype.forEach.call(document.querySelectorAll("form[data-start-treatment]"), initStartForm);
    Array.prototype.forEach.call(document.querySelectorAll("[data-print]"), function (el) {
      el.addEventListener("click", function (e) { e.preventDefault(); window.print(); });
    });
  });
})();
