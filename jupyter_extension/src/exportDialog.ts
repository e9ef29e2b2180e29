/**
 * Export: ask where to write and whether to verify, then save, analyse,
 * generate and (optionally) verify, showing each step as it runs.
 *
 * The steps are the server's (a `convert` job, a `verify` job); this module only
 * sequences them and shows what they return: the generated files (click to open),
 * warnings, or the error and the cell it is about. Starting the convert job is the
 * analysis: the server answers 400 with what blocks the notebook, else the job
 * converts from that same analysis (the panel already follows the notebook's edits).
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import type { IDocumentManager } from '@jupyterlab/docmanager';
import type { NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import * as api from './api';
import { h } from './dom';
import { doctorView } from './doctor';
import type { RolesPanel } from './panel';
import { problemView, showCellButton } from './problems';
import type { IConversion, IVerification } from './schema';

type StepName = 'analyse' | 'generate' | 'verify';
type StepState = 'waiting' | 'running' | 'done' | 'failed' | 'skipped';

const STEP_LABELS: Record<StepName, string> = {
  analyse: 'Analyse the notebook (saved first)',
  generate: 'Generate the project (trains the model once)',
  verify: 'Verify: run the notebook and the generated code, compare'
};

export interface IExportOptions {
  output: string;
  verify: boolean;
  /** Also compile the Kubeflow pipeline (`convert --kfp`: pipelines/pipeline.yaml). */
  kfp: boolean;
}

/** What the export needs from the rest of the extension. */
export interface IExportServices {
  docManager: IDocumentManager;
  panel: RolesPanel;
}

/** The form of the first dialog: output folder, the regression check, the Kubeflow pipeline. */
class ExportForm extends Widget {
  constructor(defaultOutput: string) {
    super();
    this.addClass('jp-nb2prod-export-form');
    this.output = h('input', {
      type: 'text',
      class: 'jp-mod-styled jp-nb2prod-output',
      value: defaultOutput,
      'aria-describedby': 'jp-nb2prod-output-help'
    });
    this.verify = h('input', { type: 'checkbox', class: 'jp-nb2prod-verify' });
    this.kfp = h('input', { type: 'checkbox', class: 'jp-nb2prod-kfp' });
    this.node.append(
      h('label', {}, 'Output folder (relative to the server root)', this.output),
      h(
        'p',
        { id: 'jp-nb2prod-output-help', class: 'jp-nb2prod-help' },
        'Re-exporting updates what nb2prod generated and never overwrites files you edited.'
      ),
      h(
        'label',
        { class: 'jp-nb2prod-check' },
        this.verify,
        ' Run the regression check (papermill runs the notebook; takes longer)'
      ),
      h(
        'label',
        { class: 'jp-nb2prod-check' },
        this.kfp,
        ' Compile the Kubeflow pipeline (pipelines/pipeline.yaml; needs nb2prod[kfp] on the server)'
      )
    );
  }

  getValue(): IExportOptions {
    return {
      output: this.output.value.trim(),
      verify: this.verify.checked,
      kfp: this.kfp.checked
    };
  }

  private readonly output: HTMLInputElement;
  private readonly verify: HTMLInputElement;
  private readonly kfp: HTMLInputElement;
}

/** The body of the progress dialog: the steps, then the outcome. */
class ExportProgress extends Widget {
  constructor(verify: boolean) {
    super();
    this.addClass('jp-nb2prod-export-progress');
    this.steps = h('ol', { class: 'jp-nb2prod-steps', 'aria-label': 'export steps' });
    for (const step of Object.keys(STEP_LABELS) as StepName[]) {
      this.steps.append(
        h('li', { 'data-step': step }, STEP_LABELS[step], h('span', { class: 'jp-nb2prod-state' }))
      );
      this.set(step, step === 'verify' && !verify ? 'skipped' : 'waiting');
    }
    this.outcome = h('div', { class: 'jp-nb2prod-outcome', 'aria-live': 'polite' });
    this.cancel = h(
      'button',
      { class: 'jp-nb2prod-button jp-nb2prod-cancel', title: 'stop the running step' },
      'Cancel'
    );
    this.cancel.hidden = true;
    this.cancel.addEventListener('click', () => void this.cancelJob());
    this.node.append(this.steps, this.cancel, this.outcome);
  }

  /** The job the Cancel button stops (null: nothing to cancel, the button is hidden). */
  follow<T>(job: api.IJob<T> | null): void {
    this.job = job;
    this.cancel.hidden = job === null;
    this.cancel.disabled = false;
  }

  private async cancelJob(): Promise<void> {
    if (this.job === null) {
      return;
    }
    this.cancel.disabled = true;
    try {
      await api.cancelJob(this.job); // the poll then sees `cancelled` and reports it
    } catch (error) {
      this.cancel.disabled = false;
      this.show(h('p', { class: 'jp-nb2prod-blocked' }, `Could not cancel: ${String(error)}`));
    }
  }

  set(step: StepName, state: StepState, detail = ''): void {
    const item = this.steps.querySelector<HTMLElement>(`[data-step="${step}"]`)!;
    item.dataset.state = state;
    item.querySelector('.jp-nb2prod-state')!.textContent = detail ? `${state}: ${detail}` : state;
  }

  /** Follows a job: queued (other jobs run first), or running with its elapsed seconds. */
  poller<T>(step: StepName): (job: api.IJob<T>) => void {
    return job => {
      if (this.job?.id !== job.id) {
        this.follow(job);
      }
      this.set(
        step,
        job.status === 'queued' ? 'waiting' : 'running',
        job.status === 'queued'
          ? `queued behind other jobs, ${Math.round(job.elapsed)} s`
          : `${Math.round(job.elapsed)} s`
      );
    };
  }

  show(...nodes: Node[]): void {
    this.outcome.replaceChildren(...nodes);
  }

  /** Add below what is shown (the doctor's findings come after the error). */
  append(node: Node): void {
    this.outcome.append(node);
  }

  private readonly steps: HTMLOListElement;
  private readonly outcome: HTMLDivElement;
  private readonly cancel: HTMLButtonElement;
  private job: api.IJob<unknown> | null = null;
}

/** Run the whole export for `notebook`; resolves when the user closes the dialog. */
export async function exportNotebook(
  notebook: NotebookPanel,
  services: IExportServices
): Promise<void> {
  await notebook.context.ready;
  const path = notebook.context.path;
  const options = await askOptions(path, services.panel);
  if (options === null) {
    return;
  }
  const progress = new ExportProgress(options.verify);
  const dialog = new Dialog({
    title: `Export ${PathExt.basename(path)}`,
    body: progress,
    buttons: [Dialog.okButton({ label: 'Close' })]
  });
  dialog.addClass('jp-nb2prod-export-dialog');
  const closed = dialog.launch();
  const close = (): void => dialog.resolve(0);
  let step: StepName = 'analyse';
  let notebookBlocks = false; // the notebook's own problems: nothing the server lacks
  try {
    progress.set('analyse', 'running');
    await notebook.context.save();
    const job = await api
      .startConvert(path, options.output, options.kfp)
      .catch((error: unknown) => {
        if (blocksExport(error)) {
          notebookBlocks = true;
          const { problems } = error;
          throw new api.Nb2prodError(`${problems.length} problem(s) block the export`, problems);
        }
        throw error;
      });
    progress.set('analyse', 'done');

    step = 'generate';
    progress.set('generate', 'running');
    const conversion = await api.finished(job, progress.poller('generate'));
    progress.set('generate', 'done', `${conversion.files.length} files`);

    let verification: IVerification | null = null;
    if (options.verify) {
      step = 'verify';
      progress.set('verify', 'running');
      verification = await api.finished(
        await api.startVerify(conversion.output_path),
        progress.poller('verify')
      );
      progress.set('verify', verification.passed ? 'done' : 'failed', summary(verification));
    }
    progress.follow(null);
    progress.show(success(conversion, verification, services.docManager, close));
  } catch (error) {
    progress.follow(null);
    progress.set(step, 'failed');
    const failure = error instanceof api.Nb2prodError ? error : new api.Nb2prodError(String(error));
    services.panel.highlight(failure.problems);
    progress.show(problemsView(failure, services.panel, close));
    // Export could not run: what the server's Python lacks is often why
    const doctor = notebookBlocks ? null : await doctorView(path);
    if (doctor !== null) {
      progress.append(doctor);
    }
  }
  await closed;
}

/** A 400 naming problems: the notebook's own, found as the server analysed it. */
function blocksExport(error: unknown): error is api.Nb2prodError {
  return error instanceof api.Nb2prodError && error.status === 400 && error.problems.length > 0;
}

async function askOptions(path: string, panel: RolesPanel): Promise<IExportOptions | null> {
  const project = panel.report?.project ?? PathExt.basename(path, PathExt.extname(path));
  const result = await showDialog({
    title: 'Export to a production project',
    body: new ExportForm(PathExt.join(PathExt.dirname(path), project)),
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Export' })],
    focusNodeSelector: '.jp-nb2prod-output'
  });
  return result.button.accept && result.value?.output ? result.value : null;
}

function summary(verification: IVerification): string {
  const failed = verification.checks.filter(check => !check.passed).map(check => check.name);
  return failed.length
    ? `${failed.join(', ')} differ`
    : `${verification.checks.length} checks passed`;
}

function success(
  conversion: IConversion,
  verification: IVerification | null,
  docManager: IDocumentManager,
  close: () => void
): HTMLElement {
  const files = conversion.files.map(file => {
    const open = h('button', { class: 'jp-nb2prod-file', title: `open ${file}` }, file);
    open.addEventListener('click', () => {
      close();
      docManager.openOrReveal(file);
    });
    return h('li', {}, open);
  });
  const verified =
    verification === null
      ? null
      : h(
          'p',
          { class: verification.passed ? 'jp-nb2prod-ok' : 'jp-nb2prod-blocked' },
          verification.passed
            ? `Verified: ${summary(verification)}.`
            : `The regression check failed: ${summary(verification)}.`
        );
  return h(
    'div',
    { class: 'jp-nb2prod-success' },
    h(
      'p',
      { class: 'jp-nb2prod-ok', role: 'status' },
      `Exported ${conversion.project} to ${conversion.output_path}/`
    ),
    verified,
    ...conversion.warnings.map(warning => problemView(warning, { firstLine: true })),
    h('p', {}, `Generated files (${conversion.files.length}), click to open:`),
    h('ul', { class: 'jp-nb2prod-files' }, ...files)
  );
}

function problemsView(error: api.Nb2prodError, panel: RolesPanel, close: () => void): HTMLElement {
  return h(
    'div',
    { class: 'jp-nb2prod-failure', role: 'alert' },
    h('p', {}, error.message),
    ...error.problems.map(problem => problemView(problem, { firstLine: true })),
    showCellButton(error.problems, () => {
      close();
      panel.highlight(error.problems);
    })
  );
}
