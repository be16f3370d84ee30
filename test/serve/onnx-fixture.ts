// A run folder's model.onnx for the browser tests, written by fmnist's own exporter (`fmnist export DIR`), so the
// page is checked on the file users get.
import { exportOnnx } from '../../src/runs/onnx-export.js';

/** Writes DIR/model.onnx for a run folder; returns its path. */
export async function exportOnnxFixture(dir: string): Promise<string> {
  return (await exportOnnx(dir)).file;
}
