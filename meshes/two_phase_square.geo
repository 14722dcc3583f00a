// two_phase_square.geo -- example user mesh for fe2's .msh import path.
//
// Unit square RVE [0,1]x[0,1]: a "matrix" with one centred circular "fibre"
// (radius 0.3, fibre volume fraction pi*0.09 = 0.2827). Opposite box edges are
// declared periodic, so the mesh matches node for node across them.
//
// Regenerate the .msh (gmsh format 4.1, ASCII):
//   gmsh two_phase_square.geo -2 -format msh41 -o two_phase_square.msh
// or from Python: gmsh.open("two_phase_square.geo"); gmsh.model.mesh.generate(2);
//   gmsh.option.setNumber("Mesh.MshFileVersion", 4.1); gmsh.write("two_phase_square.msh")

lc = 0.08;      // target element size
r = 0.3;        // fibre radius
xc = 0.5; yc = 0.5;

// box corners
Point(1) = {0, 0, 0, lc};
Point(2) = {1, 0, 0, lc};
Point(3) = {1, 1, 0, lc};
Point(4) = {0, 1, 0, lc};
// fibre: centre and four points on the circle
Point(5) = {xc, yc, 0, lc};
Point(6) = {xc + r, yc, 0, lc};
Point(7) = {xc, yc + r, 0, lc};
Point(8) = {xc - r, yc, 0, lc};
Point(9) = {xc, yc - r, 0, lc};

Line(1) = {1, 2};   // bottom, y = 0
Line(2) = {2, 3};   // right,  x = 1
Line(3) = {3, 4};   // top,    y = 1
Line(4) = {4, 1};   // left,   x = 0
Circle(5) = {6, 5, 7};
Circle(6) = {7, 5, 8};
Circle(7) = {8, 5, 9};
Circle(8) = {9, 5, 6};

Curve Loop(1) = {1, 2, 3, 4};
Curve Loop(2) = {5, 6, 7, 8};
Plane Surface(1) = {1, 2};   // matrix (square minus disk)
Plane Surface(2) = {2};      // fibre

// slave = master translated; minus sign: opposite orientation
Periodic Curve {2} = {-4} Translate {1, 0, 0};
Periodic Curve {3} = {-1} Translate {0, 1, 0};

Physical Surface("matrix", 1) = {1};
Physical Surface("fibre", 2) = {2};
