/** Landscape: contour map with the trajectory, a rotatable 3D surface, and 1D slices through the current point. */
import { chart } from '../charts/chartFrame';
import { drawContourChart, type TrajectoryPoint } from '../charts/contourChart';
import { drawLineChart } from '../charts/lineChart';
import { drawSurfaceChart } from '../charts/surfaceChart';
import { num } from '../format';
import { centreSlices, completeLattice, gridMinimum, toGrid } from '../landscapeData';
import { dataNumber, dataString, latest } from '../runView';
import { button } from '../ui';
import { card, costText, empty, h, section, type ViewContext } from './viewContext';

export function directionLabels(directions: string | undefined): [string, string] {
  switch (directions) {
    case 'eigen': return ['eigenvector 1 (top Hessian eigenvector)', 'eigenvector 2'];
    case 'pca': return ['trajectory PCA direction 1', 'trajectory PCA direction 2'];
    default: return ['random direction 1 (filter-normalized)', 'random direction 2 (filter-normalized)'];
  }
}

export function renderLandscape(root: HTMLElement, ctx: ViewContext): void {
  const run = ctx.run;
  const m = latest(run, 'landscape.2d');
  const grid = toGrid(m?.data);
  if (!m || !grid) {
    root.append(empty(run.status === 'running' ? 'The landscape is drawn at the last probe step: a 5×5 preview first, refined in place…' : 'This run measured no loss landscape (add "landscape" to the metrics; it needs the loss closure).'));
    return;
  }
  const directions = dataString(m, 'directions');
  const [xl, yl] = directionLabels(directions);
  const traj = Array.isArray(m.data?.['trajectory']) ? (m.data!['trajectory'] as TrajectoryPoint[]) : [];
  const lattice = completeLattice(grid);
  const min = gridMinimum(grid);
  const complete = m.data?.['complete'] === true || (lattice?.known === lattice?.total);
  root.append(h('div', { class: 'cards' },
    card('loss at θ', num(m.value), `training loss ${num(dataNumber(m, 'trainingLoss'))}`),
    card('lowest on the grid', num(min?.loss), min ? `at (${num(min.x)}, ${num(min.y)})` : undefined),
    card('grid', `${grid.xs.length}×${grid.ys.length}`, `${complete ? 'complete' : run.status === 'running' ? `refining: ${lattice?.known ?? 0}/${lattice?.total ?? 0}` : `${lattice ? `${lattice.xs.length}×${lattice.ys.length}` : 'no'} preview computed`} · span ±${num(Math.max(...grid.xs.map(Math.abs)))} · ${costText(m.cost)}`),
    card('directions', directions ?? 'random')));

  const gridRows = (): (string | number | null)[][] => grid.loss.flatMap((row, j) => row.map((v, i) => [grid.xs[i]!, grid.ys[j]!, v]));
  root.append(section('Contour map',
    chart({
      id: 'landscape-contour', title: 'Loss around the current weights', height: 430,
      description: `Loss on a ${grid.xs.length}×${grid.ys.length} grid θ + a·d₁ + b·d₂ along ${directions ?? 'random'} directions, as filled contours; red: the optimizer's trajectory projected onto the plane, ringed: the current weights, ×: the lowest loss on the grid (${num(min?.loss)}).`,
      toggles: [{ key: 'log', label: 'log-spaced levels', initial: true }],
      draw: (svg, size, o, t) => drawContourChart(svg, size, { grid, trajectory: traj, xLabel: xl, yLabel: yl, refining: run.status === 'running' }, { logLevels: o['log'] }, t),
      table: () => ({ header: ['a', 'b', 'loss'], rows: gridRows() }),
      data: () => m.data,
    }, ctx.chart)));

  const azimuth = ctx.getUi<number>('surface.azimuth', 35);
  const elevation = ctx.getUi<number>('surface.elevation', 30);
  const cam = { azimuth, elevation };
  root.append(section('Surface',
    chart({
      id: 'landscape-surface', title: '3D surface', height: 400,
      description: 'The same grid as a surface; rotate with the buttons or by dragging (height is the loss).',
      toggles: [{ key: 'log', label: 'log height', initial: false }],
      extraControls: (redraw) => {
        const turn = (da: number, de: number) => () => {
          cam.azimuth = (cam.azimuth + da + 360) % 360;
          cam.elevation = Math.max(5, Math.min(85, cam.elevation + de));
          ctx.setUi('surface.azimuth', cam.azimuth);
          ctx.setUi('surface.elevation', cam.elevation);
          redraw();
        };
        return [button('⟲', turn(-15, 0), { secondary: true, ariaLabel: 'Rotate left' }), button('⟳', turn(15, 0), { secondary: true, ariaLabel: 'Rotate right' }),
          button('▲', turn(0, 10), { secondary: true, ariaLabel: 'Tilt up' }), button('▼', turn(0, -10), { secondary: true, ariaLabel: 'Tilt down' })];
      },
      draw: (svg, size, o, t) => drawSurfaceChart(svg, size, grid, cam, { logZ: o['log'] }, t),
      table: () => ({ header: ['a', 'b', 'loss'], rows: gridRows() }),
      data: () => m.data,
    }, ctx.chart)));

  const slices = centreSlices(grid);
  root.append(section('Slices through the current weights',
    chart({
      id: 'landscape-slices', title: '1D slices', height: 260,
      description: `Loss along each direction through θ (the other coordinate 0).`,
      toggles: [{ key: 'log', label: 'log y', initial: false }],
      draw: (svg, size, o, t) => drawLineChart(svg, size, {
        xLabel: 'step along the direction', yLabel: 'loss',
        series: [{ name: xl, points: slices.x.at.map((x, i) => ({ x, y: slices.x.loss[i] ?? null })) }, { name: yl, points: slices.y.at.map((x, i) => ({ x, y: slices.y.loss[i] ?? null })) }],
        vlines: [{ at: 0, label: 'θ', color: 'red', id: 'theta' }],
      }, { yLog: o['log'] }, t),
      table: () => ({ header: ['t', 'loss_d1', 'loss_d2'], rows: slices.x.at.map((x, i) => [x, slices.x.loss[i] ?? null, slices.y.loss[i] ?? null]) }),
      data: () => slices,
    }, ctx.chart)));
}

/** Drag on the surface to rotate it: wired once per render by the panel. */
export function enableSurfaceDrag(root: HTMLElement, ctx: ViewContext, rerender: () => void): void {
  const svg = root.querySelector<SVGSVGElement>('[data-chart="landscape-surface"] svg');
  if (!svg) return;
  let start: { x: number; y: number; a: number; e: number } | undefined;
  svg.addEventListener('pointerdown', (e) => {
    start = { x: e.clientX, y: e.clientY, a: ctx.getUi('surface.azimuth', 35), e: ctx.getUi('surface.elevation', 30) };
    svg.setPointerCapture(e.pointerId);
  });
  svg.addEventListener('pointerup', (e) => {
    if (!start) return;
    const a = Math.round((start.a + (e.clientX - start.x) * 0.5 + 360) % 360);
    const el = Math.round(Math.max(5, Math.min(85, start.e - (e.clientY - start.y) * 0.3)));
    start = undefined;
    if (a === ctx.getUi('surface.azimuth', 35) && el === ctx.getUi('surface.elevation', 30)) return;
    ctx.setUi('surface.azimuth', a);
    ctx.setUi('surface.elevation', el);
    rerender();
  });
}
