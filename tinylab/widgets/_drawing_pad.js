// The drawing pad's canvas (tinylab/widgets/_drawing_pad.py), an anywidget front end.
//
// The ink is drawn here, in the browser, as the pen moves; the kernel hears of a stroke once,
// when the pen lifts: the model's `strokes` (a list of strokes, each a list of [x, y] canvas
// pixels) gets the new stroke appended and is saved. Thirty students drawing at once send the
// server thirty messages, not the ~60 mouse moves per stroke an event-forwarding canvas sends.
// `strokes` is the one record of the drawing: the kernel clears the pad by emptying it, and a
// page that connects late (Voila) paints what is already there from the model's state.

const INK = "black";
const PAPER = "white";

function render({ model, el }) {
  const size = model.get("size");
  const canvas = document.createElement("canvas");
  canvas.width = size;
  canvas.height = size;
  canvas.className = "tl-pad-canvas";
  // touch-action none: a finger draws instead of scrolling the page.
  canvas.style.cssText = `width:${size}px;height:${size}px;border:1px solid #888;` +
    "touch-action:none;cursor:crosshair;display:block";
  el.appendChild(canvas);
  const context = canvas.getContext("2d");
  let stroke = null;  // the stroke being drawn: [[x, y], ...], or null with the pen up

  function pen() {
    context.strokeStyle = INK;
    context.fillStyle = INK;
    context.lineWidth = model.get("pen_width");
    context.lineCap = "round";
    context.lineJoin = "round";
  }

  function ink(points, from) {
    // Points from index `from` on, joined to the one before (a dot when alone).
    pen();
    if (points.length === 1) {
      context.beginPath();
      context.arc(points[0][0], points[0][1], model.get("pen_width") / 2, 0, 2 * Math.PI);
      context.fill();
      return;
    }
    context.beginPath();
    const start = Math.max(from - 1, 0);
    context.moveTo(points[start][0], points[start][1]);
    for (let i = start + 1; i < points.length; i++) context.lineTo(points[i][0], points[i][1]);
    context.stroke();
  }

  function paint() {
    context.fillStyle = PAPER;
    context.fillRect(0, 0, size, size);
    for (const points of model.get("strokes")) if (points.length) ink(points, 0);
    if (stroke) ink(stroke, 0);
  }

  function point(event) {
    // Canvas pixels, kept on the canvas (the pen is captured while it is down), 1/100 px.
    const box = canvas.getBoundingClientRect();
    const scale = size / canvas.clientWidth;
    const clamp = (v) => Math.min(Math.max(v, 0), size);
    const x = clamp((event.clientX - box.left - canvas.clientLeft) * scale);
    const y = clamp((event.clientY - box.top - canvas.clientTop) * scale);
    return [Math.round(x * 100) / 100, Math.round(y * 100) / 100];
  }

  function down(event) {
    if (event.button !== undefined && event.button > 0) return;  // right or middle button
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    stroke = [point(event)];
    ink(stroke, 0);
  }

  function move(event) {
    if (!stroke) return;
    event.preventDefault();
    // One point per move event (the screen's rate, as a mouse reports), not the coalesced
    // ones of a fast mouse: the kernel rasterizes every segment, and at 60 Hz a digit is
    // already drawn in steps of a few pixels. A point less than a pixel from the last one
    // adds nothing the 8x8 digit could see.
    const [x, y] = point(event), [lastX, lastY] = stroke[stroke.length - 1];
    if (Math.abs(x - lastX) < 1 && Math.abs(y - lastY) < 1) return;
    stroke.push([x, y]);
    ink(stroke, stroke.length - 1);
  }

  function up(event) {
    if (!stroke) return;
    const done = stroke;
    stroke = null;
    if (canvas.hasPointerCapture(event.pointerId)) canvas.releasePointerCapture(event.pointerId);
    model.set("strokes", [...model.get("strokes"), done]);
    model.save_changes();
  }

  canvas.addEventListener("pointerdown", down);
  canvas.addEventListener("pointermove", move);
  canvas.addEventListener("pointerup", up);
  canvas.addEventListener("pointercancel", up);
  model.on("change:strokes", paint);
  model.on("change:pen_width", paint);
  paint();
  return () => {
    model.off("change:strokes", paint);
    model.off("change:pen_width", paint);
  };
}

export default { render };
