// The messages between the server and a worker process, both ways. One task per process.
import type { LoadedDataset } from '../data/index.js';
import type { ColumnView } from '../data/columns.js';
import type { GradCheckResult, GradCheckSpec, PackedEpochs } from '../engine/index.js';
import type { JobResult } from './events.js';
import type { JobSpec } from './spec.js';
import type { EpochScores } from './training.js';
import type { DatasetRecord } from './store.js';

/** A dataset the store keeps: its record and the folder of its arrays. */
export interface StoredDataset {
  record: DatasetRecord;
  directory: string;
}

export interface TrainTask {
  kind: 'train';
  spec: JobSpec;
  /** For a spec whose dataset is an id; built-ins are made by the worker. */
  dataset?: StoredDataset;
  checkpoint?: Uint8Array;
  /** Early stopping's best epoch's checkpoint, for a job that restores it. */
  bestCheckpoint?: Uint8Array;
  /** The epochs trained before this start, for early stopping's memory. */
  history?: EpochScores[];
  /** A rate set from outside that no epoch has used yet, and its change's number. */
  learningRate?: number;
  rateChange?: number;
  /** Wait for the server's 'epochDone' after each epoch: it may stop the job in between. */
  stepwise?: boolean;
  /** Each epoch's dev metrics carry the macro F1: the job's sweep ranks by dev.f1. */
  devF1?: boolean;
}

export interface GradCheckTask {
  kind: 'gradcheck';
  spec: GradCheckSpec;
  samples: number;
  features: number;
  seed: number;
}

/** Reads an uploaded file into the store's array files. */
export interface ImportTask {
  kind: 'import';
  file: string;
  format: 'csv' | 'json';
  label?: string;
  name: string;
  directory: string;
}

export type WorkerTask = TrainTask | GradCheckTask | ImportTask;

export type ToWorker =
  | { type: 'task'; task: WorkerTask; heartbeatMs: number }
  | { type: 'cancel' }
  | { type: 'epochDone' }
  /** `change`: the rate change's number, which the epoch that applies it reports back. */
  | { type: 'learningRate'; learningRate: number; change: number };

export interface WorkerError {
  code: string;
  message: string;
  path?: string;
}

export type ImportedDataset = Pick<LoadedDataset, 'name' | 'featureNames' | 'labels' | 'labelColumn'> & {
  rows: number;
  features: number;
  testRows: number;
  /** A table's columns, as the upload's reply describes them. */
  columns?: ColumnView[];
};

export type FromWorker =
  | { type: 'heartbeat' }
  /** Epochs handed over together, as rows of numbers, and the checkpoint after the last (`best`: early stopping's best, too). */
  | { type: 'epochs'; epochs: PackedEpochs; checkpoint: Uint8Array; best: boolean }
  | { type: 'succeeded'; result: JobResult; model: string }
  | { type: 'gradcheck'; result: GradCheckResult }
  | { type: 'imported'; dataset: ImportedDataset }
  | { type: 'cancelled' }
  | { type: 'failed'; error: WorkerError };
