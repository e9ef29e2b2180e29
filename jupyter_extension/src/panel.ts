/**
 * The side panel: one row per code cell of the active notebook.
 *
 * A row shows the cell's index and first line, a role picker that writes the
 * cell's tags, what its section takes and gives, its problems, and the role
 * nb2prod suggests for untagged cells. The report comes from the server's
 * `check`, sent the notebook as edited (not as saved), at most every
 * `DEBOUNCE_MS` while the notebook changes.
 */
import type * as nbformat from '@jupyterlab/nbformat';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import * as api from './api';
import { describeCell, h } from './dom';
import { doctorView } from './doctor';
import { nb2prodIcon } from './icon';
import { setCellRole } from './tags';

const DEBOUNCE_MS = 400;
const NO_ROLE = '';

/** A problem to show on a cell after a failed export, until the notebook changes. */
interface IHighlight {
  index: number;
  message: string;
}

export class RolesPanel extends Widget {
  constructor(
    tracker: INotebookTracker,
    private readonly vocabulary: Promise<api.IRoles>
  ) {
    super();
    this.id = 'nb2prod-panel';
    this.addClass('jp-nb2prod-panel');
    this.title.icon = nb2prodIcon;
    this.title.caption = 'nb2prod: cell roles and problems';
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', 'nb2prod cell roles');
    this.node.addEventListener('keydown', event => this.onKeydown(event));
    tracker.currentChanged.connect(() => this.follow(tracker.currentWidget), this);
    void vocabulary.then(loaded => {
      this.roles = loaded.roles;
      this.render();
    });
    this.follow(tracker.currentWidget);
  }

  /** The report currently shown (for the export dialog's defaults). */
  get report(): api.ICheckReport | null {
    return this.current;
  }

  /** Mark the rows of the cells an export failed on, and select the first. */
  highlight(problems: api.IProblem[]): void {
    this.highlights = problems
      .filter(problem => problem.cell !== null)
      .map(problem => ({ index: problem.cell!.index, message: problem.message }));
    this.render();
    const first = this.highlights[0];
    if (first) {
      this.selectCell(first.index);
      this.node.querySelector<HTMLElement>(`[data-cell-index="${first.index}"]`)?.focus();
    }
  }

  /** Check again now (also used after the notebook was saved by an export). */
  async refresh(): Promise<void> {
    const notebook = this.notebook;
    window.clearTimeout(this.timer);
    if (!notebook?.model) {
      this.current = null;
      this.failure = null;
      this.render();
      return;
    }
    const content = withoutOutputs(notebook.model.sharedModel.toJSON());
    const ticket = ++this.requests;
    this.noCode = !content.cells.some(
      cell => cell.cell_type === 'code' && [cell.source].flat().join('').trim()
    );
    if (this.noCode) {
      this.current = null;
      this.failure = null;
      this.render();
      return;
    }
    try {
      const report = await api.check(notebook.context.path, content);
      if (ticket === this.requests) {
        this.current = report;
        this.failure = null;
      }
    } catch (error) {
      const doctor = await doctorView(notebook.context.path); // often why check cannot run
      if (ticket === this.requests) {
        this.current = null;
        this.failure = error instanceof Error ? error.message : String(error);
        this.doctor = doctor;
      }
    }
    if (ticket === this.requests) {
      this.render();
    }
  }

  private follow(notebook: NotebookPanel | null): void {
    this.notebook?.model?.sharedModel.changed.disconnect(this.schedule, this);
    this.notebook = notebook;
    this.highlights = [];
    this.current = null;
    this.failure = null;
    if (notebook) {
      void notebook.context.ready.then(() => {
        if (this.notebook === notebook) {
          notebook.model?.sharedModel.changed.connect(this.schedule, this);
          void this.refresh();
        }
      });
    }
    this.render();
  }

  private schedule(): void {
    this.highlights = []; // the notebook changed: the export's error may be fixed
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => void this.refresh(), DEBOUNCE_MS);
  }

  private render(): void {
    const report = this.current;
    const body: Node[] = [];
    if (!this.notebook) {
      body.push(h('p', { class: 'jp-nb2prod-empty' }, 'Open a notebook to see its cell roles.'));
    } else if (this.noCode) {
      body.push(
        h(
          'p',
          { class: 'jp-nb2prod-empty' },
          'No code yet: write cells, then give them roles here.'
        )
      );
    } else if (this.failure) {
      body.push(h('p', { class: 'jp-nb2prod-failure', role: 'alert' }, this.failure));
      if (this.doctor) {
        body.push(this.doctor);
      }
    } else if (!report) {
      body.push(h('p', { class: 'jp-nb2prod-empty' }, 'Checking…'));
    } else {
      body.push(this.summary(report), this.rows(report));
    }
    const focus = this.focusKey();
    this.node.replaceChildren(
      h('header', { class: 'jp-nb2prod-header' }, h('h2', {}, 'nb2prod'), this.notebookName()),
      ...body
    );
    this.restoreFocus(focus);
  }

  /** What has the keyboard focus in the panel, to find it again after a render. */
  private focusKey(): string | null {
    const active = document.activeElement;
    if (!(active instanceof HTMLElement) || !this.node.contains(active)) {
      return null;
    }
    const row = active.closest<HTMLElement>('.jp-nb2prod-row');
    const index = row?.dataset.cellIndex ?? '';
    return `${index}|${active === row ? 'row' : active.className}`;
  }

  private restoreFocus(key: string | null): void {
    if (key === null) {
      return;
    }
    const [index, what] = key.split('|');
    const row = index ? this.node.querySelector<HTMLElement>(`[data-cell-index="${index}"]`) : null;
    const scope = row ?? this.node;
    const target =
      what === 'row'
        ? row
        : scope.querySelector<HTMLElement>(`.${what.split(' ').filter(Boolean).join('.')}`);
    (target ?? row)?.focus();
  }

  private notebookName(): Node {
    return h('span', { class: 'jp-nb2prod-notebook' }, this.notebook?.context.path ?? '');
  }

  private summary(report: api.ICheckReport): HTMLElement {
    const blocking = report.problems.filter(p => p.severity === 'error').length;
    const warnings = report.problems.length - blocking;
    const pending = report.cells.filter(c => this.suggestion(c) !== null);
    const status = report.convertible
      ? `Ready to export · ${warnings} warning(s)`
      : `${blocking} problem(s) block export · ${warnings} warning(s)`;
    const applyAll = h(
      'button',
      {
        class: 'jp-nb2prod-button jp-nb2prod-apply-all',
        title: 'Tag every untagged cell with its suggested role'
      },
      `Apply all suggestions (${pending.length})`
    );
    applyAll.disabled = pending.length === 0;
    applyAll.addEventListener('click', () => {
      void this.setRoles(pending.map(cell => [cell.index, this.suggestion(cell)!]));
    });
    const unplaced = report.problems.filter(p => p.cell === null);
    return h(
      'div',
      { class: 'jp-nb2prod-summary' },
      h(
        'p',
        {
          class: report.convertible ? 'jp-nb2prod-ok' : 'jp-nb2prod-blocked',
          role: 'status'
        },
        status
      ),
      ...unplaced.map(problem => this.problem(problem)),
      applyAll
    );
  }

  private rows(report: api.ICheckReport): HTMLElement {
    return h(
      'ol',
      { class: 'jp-nb2prod-cells', 'aria-label': 'code cells' },
      ...report.cells.map(cell => this.row(cell))
    );
  }

  private row(cell: api.ICellReport): HTMLElement {
    const highlight = this.highlights.find(item => item.index === cell.index);
    const classes = ['jp-nb2prod-row'];
    if (cell.problems.some(p => p.severity === 'error')) {
      classes.push('jp-nb2prod-row-error');
    }
    if (highlight) {
      classes.push('jp-nb2prod-row-highlight');
    }
    if (this.notebook?.content.activeCellIndex === cell.index) {
      classes.push('jp-nb2prod-row-active');
    }
    const row = h(
      'li',
      {
        class: classes.join(' '),
        tabindex: '0',
        'data-cell-index': String(cell.index),
        'aria-label': `cell ${cell.index}: ${cell.first_line}`
      },
      h('span', { class: 'jp-nb2prod-index' }, `[${cell.index}]`),
      h('code', { class: 'jp-nb2prod-first-line', title: cell.first_line }, cell.first_line),
      this.picker(cell),
      this.flow(cell),
      this.suggestionView(cell),
      highlight
        ? h('p', { class: 'jp-nb2prod-export-error', role: 'alert' }, highlight.message)
        : null,
      ...cell.problems.map(problem => this.problem(problem))
    );
    row.addEventListener('click', event => {
      if (!(
        event.target instanceof HTMLSelectElement || event.target instanceof HTMLButtonElement
      )) {
        this.selectCell(cell.index);
      }
    });
    return row;
  }

  private picker(cell: api.ICellReport): HTMLElement {
    const select = h('select', {
      class: 'jp-nb2prod-role',
      'aria-label': `role of cell ${cell.index}`
    });
    const inherited = cell.role && !cell.declared ? ` (${cell.role})` : '';
    select.append(h('option', { value: NO_ROLE }, `no tag${inherited}`));
    for (const role of this.roles) {
      select.append(h('option', { value: role }, role));
    }
    select.value = cell.declared && cell.role ? cell.role : NO_ROLE;
    select.addEventListener('change', () => {
      void this.setRoles([[cell.index, select.value === NO_ROLE ? null : select.value]]);
    });
    return h('label', { class: 'jp-nb2prod-role-label' }, 'role ', select);
  }

  private flow(cell: api.ICellReport): HTMLElement | null {
    if (!cell.inputs.length && !cell.outputs.length) {
      return null;
    }
    return h(
      'p',
      {
        class: 'jp-nb2prod-flow',
        title: 'what this cell takes from earlier sections → gives to later ones'
      },
      h('span', { class: 'jp-nb2prod-inputs' }, cell.inputs.join(', ') || '–'),
      ' → ',
      h('span', { class: 'jp-nb2prod-outputs' }, cell.outputs.join(', ') || '–')
    );
  }

  private suggestion(cell: api.ICellReport): string | null {
    return !cell.declared && cell.suggested_role && cell.suggested_role !== cell.role
      ? cell.suggested_role
      : null;
  }

  private suggestionView(cell: api.ICellReport): HTMLElement | null {
    const role = this.suggestion(cell);
    if (role === null) {
      return null;
    }
    const apply = h(
      'button',
      {
        class: 'jp-nb2prod-button jp-nb2prod-apply',
        'aria-label': `apply role ${role} to cell ${cell.index}`
      },
      'apply'
    );
    apply.addEventListener('click', () => void this.setRoles([[cell.index, role]]));
    return h(
      'p',
      { class: 'jp-nb2prod-suggestion' },
      'suggested: ',
      h('strong', {}, role),
      ' ',
      apply
    );
  }

  private problem(problem: api.IProblem): HTMLElement {
    const where = problem.cell ? `${describeCell(problem.cell)}: ` : '';
    return h(
      'p',
      { class: `jp-nb2prod-problem jp-nb2prod-${problem.severity}`, title: `fix: ${problem.fix}` },
      h('span', { class: 'jp-nb2prod-severity' }, problem.severity),
      ` ${where}${problem.message}`,
      h('span', { class: 'jp-nb2prod-fix' }, `fix: ${problem.fix}`)
    );
  }

  private async setRoles(changes: [number, string | null][]): Promise<void> {
    const model = this.notebook?.model;
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

  private selectCell(index: number): void {
    const notebook = this.notebook?.content;
    if (!notebook || index >= notebook.widgets.length) {
      return;
    }
    notebook.deselectAll();
    notebook.activeCellIndex = index;
    void notebook.scrollToCell(notebook.widgets[index], 'smart');
    this.node
      .querySelectorAll('.jp-nb2prod-row-active')
      .forEach(row => row.classList.remove('jp-nb2prod-row-active'));
    this.node.querySelector(`[data-cell-index="${index}"]`)?.classList.add('jp-nb2prod-row-active');
  }

  /** Arrow keys move between rows; Enter or Space on a row selects its cell. */
  private onKeydown(event: KeyboardEvent): void {
    const row = (event.target as HTMLElement).closest<HTMLElement>('.jp-nb2prod-row');
    if (!row || event.target !== row) {
      return;
    }
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      this.selectCell(Number(row.dataset.cellIndex));
    } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const next = event.key === 'ArrowDown' ? row.nextElementSibling : row.previousElementSibling;
      (next as HTMLElement | null)?.focus();
    }
  }

  private notebook: NotebookPanel | null = null;
  private current: api.ICheckReport | null = null;
  private failure: string | null = null;
  private doctor: HTMLElement | null = null; // what the server lacks, while check fails
  private noCode = false;
  private highlights: IHighlight[] = [];
  private timer = 0;
  private requests = 0;
  private roles: string[] = [];
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
