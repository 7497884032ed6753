// Query builder (C8): operators offered per field kind, value pickers for coded fields, and
// the advanced form's nested AND / OR groups, sent as a JSON tree in the hidden field "q".
// Also wires [data-print] buttons (print views of the finder and the analysis pages).
(function () {
  "use strict";

  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  var configNode = document.getElementById("finder-config");
  if (!configNode) { return; }
  var config = JSON.parse(configNode.textContent);
  var fieldsByName = {};
  config.fields.forEach(function (f) { fieldsByName[f.name] = f; });

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function option(value, label, selected) {
    var node = el("option", "", label);
    node.value = value;
    if (selected) { node.selected = true; }
    return node;
  }

  function allowedOps(fieldName) {
    var field = fieldsByName[fieldName];
    return field ? config.byKind[field.kind] : Object.keys(config.operators);
  }

  function isValueless(op) { return config.valueless.indexOf(op) >= 0; }

  // A value control fitting the field: a select for coded fields, a date for datetimes.
  function valueControl(fieldName, value, name) {
    var field = fieldsByName[fieldName];
    var control;
    if (field && field.choices.length) {
      control = el("select", "form-select form-select-sm");
      field.choices.forEach(function (c) { control.appendChild(option(c[0], c[1], c[0] === value)); });
    } else {
      control = el("input", "form-control form-control-sm");
      control.maxLength = 200;
      if (field && field.kind === "datetime") { control.type = "date"; }
      control.value = value === undefined || value === null ? "" : String(value);
    }
    if (name) { control.name = name; }
    control.setAttribute("aria-label", config.text.value);
    control.dataset.role = "value";
    return control;
  }

  function fillOps(select, fieldName, current) {
    var ops = allowedOps(fieldName);
    select.textContent = "";
    ops.forEach(function (op) { select.appendChild(option(op, config.operators[op], op === current)); });
    if (ops.indexOf(current) < 0) { select.value = ops[0]; }
  }

  // -- simple form ------------------------------------------------------------------------
  var simple = document.getElementById("simple-form");
  if (simple) {
    var fieldSelect = simple.querySelector("[name=field]");
    var opSelect = simple.querySelector("[name=op]");
    var refresh = function (keepValue) {
      var old = simple.querySelector("[name=value]");
      var value = keepValue ? old.value : "";
      fillOps(opSelect, fieldSelect.value, opSelect.value);
      var control = valueControl(fieldSelect.value, value, "value");
      control.id = old.id;
      old.replaceWith(control);
      control.disabled = isValueless(opSelect.value);
    };
    fieldSelect.addEventListener("change", function () { refresh(false); });
    opSelect.addEventListener("change", function () {
      simple.querySelector("[name=value]").disabled = isValueless(opSelect.value);
    });
    refresh(true);
  }

  // -- advanced form ----------------------------------------------------------------------
  var builder = document.getElementById("builder");
  var advanced = document.getElementById("advanced-form");
  if (!builder || !advanced) { return; }
  var hidden = document.getElementById("f-q");
  var firstField = config.fields.length ? config.fields[0].name : "";

  function conditionRow(node) {
    var row = el("div", "d-flex gap-1 mb-1 fq-condition");
    var field = el("select", "form-select form-select-sm w-auto");
    field.dataset.role = "field";
    field.setAttribute("aria-label", config.text.value);
    config.fields.forEach(function (f) { field.appendChild(option(f.name, f.label, f.name === node.field)); });
    var op = el("select", "form-select form-select-sm w-auto");
    op.dataset.role = "op";
    fillOps(op, field.value, node.op);
    var value = valueControl(field.value, node.value);
    value.classList.add("w-auto");
    value.disabled = isValueless(op.value);
    var remove = el("button", "btn btn-sm btn-outline-danger", "×");
    remove.type = "button";
    remove.title = config.text.remove;
    remove.addEventListener("click", function () { row.remove(); });
    field.addEventListener("change", function () {
      fillOps(op, field.value, op.value);
      var fresh = valueControl(field.value, "");
      fresh.classList.add("w-auto");
      fresh.disabled = isValueless(op.value);
      row.querySelector("[data-role=value]").replaceWith(fresh);
    });
    op.addEventListener("change", function () {
      row.querySelector("[data-role=value]").disabled = isValueless(op.value);
    });
    row.append(field, op, value, remove);
    return row;
  }

  function groupBox(node, depth) {
    var kind = Array.isArray(node.any) ? "any" : "all";
    var box = el("div", "border rounded p-2 mb-2 fq-group" + (depth ? " ms-3 bg-light" : ""));
    var head = el("div", "d-flex gap-1 mb-2 align-items-center");
    var joiner = el("select", "form-select form-select-sm w-auto");
    joiner.dataset.role = "joiner";
    joiner.appendChild(option("all", config.text.all, kind === "all"));
    joiner.appendChild(option("any", config.text.any, kind === "any"));
    var children = el("div", "fq-children");
    var addCondition = el("button", "btn btn-sm btn-outline-primary", "+ " + config.text.addCondition);
    addCondition.type = "button";
    addCondition.addEventListener("click", function () {
      children.appendChild(conditionRow({ field: firstField, op: "contains", value: "" }));
    });
    head.append(joiner, addCondition);
    if (depth + 1 < config.maxDepth) {
      var addGroup = el("button", "btn btn-sm btn-outline-primary", "+ " + config.text.addGroup);
      addGroup.type = "button";
      addGroup.addEventListener("click", function () {
        children.appendChild(groupBox({ any: [{ field: firstField, op: "contains", value: "" }] }, depth + 1));
      });
      head.appendChild(addGroup);
    }
    if (depth) {
      var remove = el("button", "btn btn-sm btn-outline-danger ms-auto", config.text.remove);
      remove.type = "button";
      remove.addEventListener("click", function () { box.remove(); });
      head.appendChild(remove);
    }
    (node[kind] || []).forEach(function (child) {
      if (child && (Array.isArray(child.all) || Array.isArray(child.any))) {
        children.appendChild(groupBox(child, depth + 1));
      } else if (child) {
        children.appendChild(conditionRow(child));
      }
    });
    box.append(head, children);
    return box;
  }

  function treeOf(box) {
    var kind = box.querySelector("[data-role=joiner]").value;
    var items = [];
    Array.prototype.forEach.call(box.querySelector(".fq-children").children, function (child) {
      if (child.classList.contains("fq-group")) {
        var sub = treeOf(child);
        if (sub) { items.push(sub); }
      } else {
        var cond = {
          field: child.querySelector("[data-role=field]").value,
          op: child.querySelector("[data-role=op]").value
        };
        if (!isValueless(cond.op)) { cond.value = child.querySelector("[data-role=value]").value; }
        items.push(cond);
      }
    });
    if (!items.length) { return null; }
    var tree = {};
    tree[kind] = items;
    return tree;
  }

  var initial = null;
  try { initial = hidden.value ? JSON.parse(hidden.value) : null; } catch (e) { initial = null; }
  if (!initial || typeof initial !== "object") {
    initial = { all: [{ field: firstField, op: "contains", value: "" }] };
  } else if (!Array.isArray(initial.all) && !Array.isArray(initial.any)) {
    initial = { all: [initial] };
  }
  var root = groupBox(initial, 0);
  builder.appendChild(root);
  advanced.addEventListener("submit", function () {
    var tree = treeOf(root);
    hidden.value = tree ? JSON.stringify(tree) : "";
  });
})();
