/**
 * The side panel's state: the notebook it follows, the last check report of it (or why
 * there is none), the cells an export failed on, and the pending check.
 *
 * A check runs `DEBOUNCE_MS` after the last edit, sent the notebook as edited (not as
 * saved); an answer that comes after a newer request was sent is dropped. Each change
 * emits `changed`, and the panel (panel.ts) renders `state` with panelView.ts. Nothing
 * here touches the panel's DOM.
 */
import type * as nbformat from '@jupyterlab/nbformat';
import type { NotebookPanel } from '@jupyterlab/notebook';
import { type ISignal, Signal } from '@lumino/signaling';

import * as api from './api';
import { notOk, type INotOk } from './doctor';
import type { ICellReport, ICheckReport, IProblem, IRoles } from './schema';
import { setCellRole } from './tags';

const DEBOUNCE_MS = 400;

/** A problem to show on a cell after a failed export, until the notebook changes. */
export interface IHighlight {
  index: number;
  message: string;
}

/** A role to set (null: none) on the cell at an index. */
export type RoleChange = [number, string | null];

/** Everything a render reads: a snapshot, taken again after each change. */
export interface IPanelState {
  /** The notebook's path; null while no notebook is open. */
  path: string | null;
  /** The notebook has no code yet: there is nothing to check. */
  noCode: boolean;
  report: ICheckReport | null;
  /** Why the last check failed, and what the server's Python lacks (often the reason). */
  failure: string | null;
  doctor: INotOk | null;
  highlights: readonly IHighlight[];
  /** The notebook's active cell. */
  activeCell: number | null;
  /** The roles the picker offers (GET /nb2prod/roles). */
  roles: readonly string[];
}

/** The role nb2prod suggests for an untagged cell, when it differs from what it has. */
export function suggestion(cell: ICellReport): string | null {
  return !cell.declared && cell.suggested_role && cell.suggested_role !== cell.role
    ? cell.suggested_role
    : null;
}

export class PanelModel {
  constructor(private readonly vocabulary: Promise<IRoles>) {
    void vocabulary.then(loaded => {
      this.roles = loaded.roles;
      this.changed_.emit();
    });
  }

  /** Emitted after every change of `state`. */
  get changed(): ISignal<this, void> {
    return this.changed_;
  }

  get state(): IPanelState {
    return {
      path: this.notebook_?.context.path ?? null,
      noCode: this.noCode,
      report: this.report_,
      failure: this.failure,
      doctor: this.doctor,
      highlights: this.highlights,
      activeCell: this.notebook_?.content.activeCellIndex ?? null,
      roles: this.roles
    };
  }

  get notebook(): NotebookPanel | null {
    return this.notebook_;
  }

  /** The report currently shown (for the export dialog's defaults). */
  get report(): ICheckReport | null {
    return this.report_;
  }

  /** Follow another notebook (null: none is open), and check it once it is ready. */
  follow(notebook: NotebookPanel | null): void {
    this.notebook_?.model?.sharedModel.changed.disconnect(this.schedule, this);
    this.notebook_ = notebook;
    this.highlights = [];
    this.report_ = null;
    this.failure = null;
    this.noCode = false;
    if (notebook) {
      void notebook.context.ready.then(() => {
        if (this.notebook_ === notebook) {
          notebook.model?.sharedModel.changed.connect(this.schedule, this);
          void this.refresh();
        }
      });
    }
    this.changed_.emit();
  }

  /** Mark the cells an export failed on; the highlights, in the problems' order. */
  highlight(problems: IProblem[]): readonly IHighlight[] {
    this.highlights = problems
      .filter(problem => problem.cell !== null)
      .map(problem => ({ index: problem.cell!.index, message: problem.message }));
    this.changed_.emit();
    return this.highlights;
  }

  /** Check again now (also used after the notebook was saved by an export). */
  async refresh(): Promise<void> {
    const notebook = this.notebook_;
    window.clearTimeout(this.timer);
    if (!notebook?.model) {
      this.report_ = null;
      this.failure = null;
      this.changed_.emit();
      return;
    }
    const content = withoutOutputs(notebook.model.sharedModel.toJSON());
    const ticket = ++this.requests;
    this.noCode = !content.cells.some(
      cell => cell.cell_type === 'code' && [cell.source].flat().join('').trim()
    );
    if (this.noCode) {
      this.report_ = null;
      this.failure = null;
      this.changed_.emit();
      return;
    }
    try {
      const report = await api.check(notebook.context.path, content);
      if (ticket === this.requests) {
        this.report_ = report;
        this.failure = null;
      }
    } catch (error) {
      const doctor = await notOk(notebook.context.path); // often why check cannot run
      if (ticket === this.requests) {
        this.report_ = null;
        this.failure = error instanceof Error ? error.message : String(error);
        this.doctor = doctor;
      }
    }
    if (ticket === this.requests) {
      this.changed_.emit();
    }
  }

  /** Write the roles as the cells' tags, in one transaction, then check again. */
  async setRoles(changes: RoleChange[]): Promise<void> {
    const model = this.notebook_?.model;
    if (!model) {
      return;
    }
    const vocabulary = await this.vocabulary;
    model.sharedModel.transact(() => {
      for (const [index, role] of changes) {
        const cell = model.cells.get(index);
        if (cell) {
          setCellRole(cell, role, vocabulary);
        }
      }
    });
    await this.refresh();
  }

  private schedule(): void {
    this.highlights = []; // the notebook changed: the export's error may be fixed
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => void this.refresh(), DEBOUNCE_MS);
  }

  private readonly changed_ = new Signal<this, void>(this);
  private notebook_: NotebookPanel | null = null;
  private report_: ICheckReport | null = null;
  private failure: string | null = null;
  private doctor: INotOk | null = null;
  private noCode = false;
  private highlights: readonly IHighlight[] = [];
  private timer = 0;
  private requests = 0;
  private roles: readonly string[] = [];
}

/**
 * The notebook as `check` needs it: outputs (images, tables) are never analysed,
 * so they are not sent on every edit.
 */
function withoutOutputs(notebook: nbformat.INotebookContent): nbformat.INotebookContent {
  return {
    ...notebook,
    cells: notebook.cells.map(cell => (cell.cell_type === 'code' ? { ...cell, outputs: [] } : cell))
  };
}
