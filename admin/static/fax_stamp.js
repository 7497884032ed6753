// The fax draft's page preview: a click says where the stamp's centre goes (fractions of the page).
(function () {
  var img = document.getElementById("fax-preview");
  if (!img) { return; }
  var x = document.getElementById("fax-x");
  var y = document.getElementById("fax-y");
  var shown = document.getElementById("fax-place");
  var mark = document.createElement("div");
  mark.style.cssText = "position:absolute;width:14px;height:14px;margin:-7px 0 0 -7px;border:2px solid red;border-radius:50%;pointer-events:none;display:none";
  img.parentNode.style.position = "relative";
  img.parentNode.appendChild(mark);
  img.addEventListener("click", function (e) {
    var box = img.getBoundingClientRect();
    var fx = (e.clientX - box.left) / box.width;
    var fy = (e.clientY - box.top) / box.height;
    x.value = fx.toFixed(4);
    y.value = fy.toFixed(4);
    mark.style.left = (img.offsetLeft + fx * img.offsetWidth) + "px";
    mark.style.top = (img.offsetTop + fy * img.offsetHeight) + "px";
    mark.style.display = "block";
    shown.textContent = Math.round(fx * 100) + "%, " + Math.round(fy * 100) + "%";
  });
})();
