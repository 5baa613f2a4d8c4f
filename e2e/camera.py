"""A fake camera for Chromium: a Y4M video file that shows one picture."""

from PIL import Image

WIDTH, HEIGHT = 640, 480


def write_y4m(picture_png, path, frames=10):
    """Centre the picture on a white 640x480 frame; write it as YUV4MPEG2, 4:2:0 (C420jpeg)."""
    picture = Image.open(picture_png).convert("RGB")
    picture.thumbnail((HEIGHT - 40, HEIGHT - 40))
    frame = Image.new("RGB", (WIDTH, HEIGHT), "white")
    frame.paste(picture, ((WIDTH - picture.width) // 2, (HEIGHT - picture.height) // 2))
    y, u, v = frame.convert("YCbCr").split()  # full-range BT.601, as C420jpeg means
    half = (WIDTH // 2, HEIGHT // 2)
    planes = y.tobytes() + u.resize(half, Image.BILINEAR).tobytes() + v.resize(half, Image.BILINEAR).tobytes()
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + planes)
    return path
