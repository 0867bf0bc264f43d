// Photos are made small on the phone before they are stored: longest side 1,600 px, JPEG at
// quality 0.7 (about 200-400 KB), plus a tiny thumbnail that stays after the upload.
const SIDE = 1600;
const THUMB = 160;

async function bitmapOf(file) {
  if (typeof createImageBitmap === "function") {
    try {
      return await createImageBitmap(file, { imageOrientation: "from-image" });
    } catch (error) {
      // fall back to an <img> below
    }
  }
  const url = URL.createObjectURL(file);
  try {
    const image = new Image();
    image.src = url;
    await image.decode();
    return image;
  } finally {
    URL.revokeObjectURL(url);
  }
}

function draw(source, side) {
  const width = source.width;
  const height = source.height;
  const scale = Math.min(1, side / Math.max(width, height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(width * scale));
  canvas.height = Math.max(1, Math.round(height * scale));
  canvas.getContext("2d").drawImage(source, 0, 0, canvas.width, canvas.height);
  return canvas;
}

function toBlob(canvas, quality) {
  return new Promise((resolve, reject) =>
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("toBlob"))), "image/jpeg", quality),
  );
}

export async function compress(file) {
  let source;
  try {
    source = await bitmapOf(file);
  } catch (error) {
    throw new Error("Ce fichier n’est pas une photo lisible.");
  }
  const blob = await toBlob(draw(source, SIDE), 0.7);
  const thumb = draw(source, THUMB).toDataURL("image/jpeg", 0.6);
  if (source.close) source.close();
  return { blob, thumb };
}
