"""Training curves as a picture: losses, penalty and speed over iterations, drawn with Pillow.
Dotted lines mark where a new resolution begins."""
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from imaging import save_image_atomically

# (title, log keys, colours) of each panel, top to bottom
PANELS = [("losses", ("d_loss", "g_loss"), ((200, 40, 40), (40, 90, 200))),
          ("penalty", ("penalty",), ((30, 140, 60),)),
          ("img/s", ("img_per_s",), ((120, 60, 160),))]
FID_PANEL = ("FID of the EMA generator", ("fid",), ((200, 120, 0),))  # with --fid_every
ADA_PANEL = ("ADA's augmentation probability p", ("augment_p",), ((0, 130, 130),))
def value_range(values):
    """The 1st to 99th percentile, widened a little, so one spike does not flatten a curve."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    low, high = np.percentile(finite, [1, 99])
    if high - low < 1e-12:
        low, high = low - 0.5, high + 0.5
    margin = 0.08 * (high - low)
    return low - margin, high + margin


def tick_label(value):
    return f"{value:.3g}"


def draw_training_plot(curves, path, width=900, panel_height=200):
    """Write a PNG with one panel per entry of PANELS, and one each for FID and ADA's p
    where the log has them; x is the iteration."""
    font = ImageFont.load_default()
    left, right, top_pad, bottom_pad = 70, 20, 24, 26
    data = curves.columns()
    panels = PANELS + [panel for panel in (FID_PANEL, ADA_PANEL)
                       if np.isfinite(data[panel[1][0]]).any()]
    image = Image.new("RGB", (width, panel_height * len(panels)), "white")
    draw = ImageDraw.Draw(image)
    x = data["iteration"]
    x_low, x_high = (float(x.min()), float(x.max())) if len(x) else (0.0, 1.0)
    if x_high <= x_low:
        x_high = x_low + 1

    def to_px(value):
        return left + (value - x_low) / (x_high - x_low) * (width - left - right)

    for index, (title, keys, colours) in enumerate(panels):
        top = index * panel_height + top_pad
        bottom = (index + 1) * panel_height - bottom_pad
        draw.rectangle([left, top, width - right, bottom], outline=(160, 160, 160))
        stacked = np.concatenate([data[key] for key in keys]) if len(x) else np.array([])
        y_low, y_high = value_range(stacked)

        def to_py(value):
            clipped = min(max(value, y_low), y_high)
            return bottom - (clipped - y_low) / (y_high - y_low) * (bottom - top)

        for value in (y_low, (y_low + y_high) / 2, y_high):
            draw.text((4, to_py(value) - 6), tick_label(value), fill="black", font=font)
        for change in np.flatnonzero(np.diff(data["size"]) > 0) + 1:
            px = to_px(x[change])
            for y in range(int(top), int(bottom), 6):
                draw.line([px, y, px, y + 2], fill=(150, 150, 150))
            draw.text((px + 3, top + 2), f"{int(data['size'][change])}px", fill="gray", font=font)
        legend = left + 4
        for key, colour in zip(keys, colours):
            points = [(to_px(a), to_py(b)) for a, b in zip(x, data[key]) if np.isfinite(b)]
            if len(points) > 1:
                draw.line(points, fill=colour, width=1)
            elif points:
                draw.point(points, fill=colour)
            draw.text((legend, top - 16), key, fill=colour, font=font)
            legend += 8 * len(key) + 16
        draw.text((width - right - 180, top - 16), title, fill="black", font=font)
        draw.text((left, bottom + 4), tick_label(x_low), fill="black", font=font)
        draw.text((width - right - 60, bottom + 4), f"iter {tick_label(x_high)}", fill="black",
                  font=font)
    save_image_atomically(image, path)
