/** Core rows → the API's shapes (contract.ts). Kept in one place so the UI's view of the data is explicit. */
import type { ImageSummary, ModelVersion, MoveRecord } from '../api/contract.ts';
import type { VersionInfo } from '../model/registry.ts';
import type { ImageListItem, MoveRow } from '../store/types.ts';

export function toImageSummary(item: ImageListItem): ImageSummary {
  return {
    id: item.id,
    path: item.path,
    originalPath: item.originalPath,
    camera: item.camera,
    status: item.status,
    error: item.error,
    captureTime: item.captureTime,
    createdAt: item.createdAt,
    pBird: item.pBird,
    predictedLabel: item.predictedLabel,
    modelVersion: item.modelVersion,
    userLabel: item.userLabel,
  };
}

export function toMoveRecord(move: MoveRow): MoveRecord {
  const { id, imageId, fromPath, toPath, kind, state, error, createdAt } = move;
  return { id, imageId, fromPath, toPath, kind, state, error, createdAt };
}

export function toModelVersion(version: VersionInfo): ModelVersion {
  const { training, metrics, createdAt } = version.metadata;
  return {
    id: version.id,
    name: version.name,
    createdAt,
    active: version.active,
    mode: training.mode ?? (version.id === 0 ? 'shipped' : 'scratch'),
    cifarAccuracy: metrics.validationAccuracy,
    localAccuracy: metrics.localAccuracy ?? null,
    localHoldoutSize: training.local?.holdout ?? 0,
    cifarConfusion: metrics.confusion ?? null,
    localConfusion: metrics.localConfusion ?? null,
  };
}
