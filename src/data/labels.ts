/** Class indices as the model outputs them: the book's CIFAR labels 0 (airplane) and 2 (bird) remapped. */
export const CLASS_NAMES = ['airplane', 'bird'] as const;
export type ClassName = (typeof CLASS_NAMES)[number];
export const AIRPLANE = 0;
export const BIRD = 1;

/** CIFAR-10's label byte → our class, or undefined for the eight classes we do not use. */
export function cifarToClass(cifarLabel: number): number | undefined {
  if (cifarLabel === 0) return AIRPLANE;
  if (cifarLabel === 2) return BIRD;
  return undefined;
}

/** A set of 32×32 RGB images with labels: pixels are N×32×32×3 bytes, HWC, ready for NHWC tensors. */
export interface LabeledImages {
  count: number;
  pixels: Uint8Array;
  labels: Uint8Array;
}
